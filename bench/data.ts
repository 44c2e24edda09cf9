/**
 * Data pipeline benchmark: `npm run bench:data` (node --import tsx bench/data.ts).
 *
 * Images per second through decode (paired-folders reader) -> SAM resize to 1024x1024 (longest
 * side + pad) -> random flip -> batch of 4 (NHWC float32), with the augmentation nodes at
 * concurrency 1, 2 and 4; and decode alone, for reference. Reads the real Kvasir-SEG images in
 * ../shared/data/kvasir-seg-dev when that folder exists, else synthetic JPEG/PNG pairs of
 * similar sizes written to a temporary folder.
 *
 * Prints figures, asserts nothing; exits 1 on a `failed` run event.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder, type Graph } from '../src/graph/graph.ts';
import { run } from '../src/graph/run.ts';
import { RandomFlip } from '../src/nodes/augment/random-flip.ts';
import { ResizeLongestSide } from '../src/nodes/augment/resize-longest-side.ts';
import { Batch } from '../src/nodes/data/batch.ts';
import { PairedFolders } from '../src/nodes/data/paired-folders.ts';
import { syntheticShape } from '../src/nodes/data/synthetic-shapes.ts';
import { mixSeed, mulberry32 } from '../src/nodes/random.ts';

const KVASIR = new URL('../../shared/data/kvasir-seg-dev', import.meta.url).pathname;
const SYNTHETIC = 60; // pairs written when the real images are absent
const SIZE = 1024;
const BATCH = 4;
const CONCURRENCY = [1, 2, 4];

/** Synthetic pairs of Kvasir-like sizes (332..1920 wide): JPEG images, PNG 0/255 masks. */
async function writeSynthetic(dir: string): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  for (let i = 0; i < SYNTHETIC; i++) {
    const random = mulberry32(mixSeed(7, i));
    const [width, height] = [Math.round(332 + random() * 1588), Math.round(352 + random() * 720)];
    const { image, mask } = syntheticShape(256, i);
    const resize = (raster: { width: number; height: number; channels: number; data: Uint8Array }, kernel: 'cubic' | 'nearest') =>
      sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: raster.channels as 1 | 3 } }).resize(width, height, { fit: 'fill', kernel });
    await resize(image, 'cubic').jpeg({ quality: 90 }).toFile(join(dir, 'images', `s${i}.jpg`));
    await resize({ ...mask, data: mask.data.map((v) => v * 255) }, 'nearest').toColourspace('b-w').png().toFile(join(dir, 'masks', `s${i}.png`));
  }
}

function pipeline(root: string, concurrency: number, augment: boolean): Graph {
  const g = new GraphBuilder({ name: 'bench-data', seed: 1 });
  const data = g.add('data', PairedFolders, { params: { root, splits: ['train'] } });
  if (!augment) return g.build();
  const resize = g.add('resize', ResizeLongestSide, { params: { size: SIZE }, inputs: { image: data.out.image, mask: data.out.mask }, concurrency });
  const flip = g.add('flip', RandomFlip, { params: { p: 0.5 }, inputs: { image: resize.out.image, mask: resize.out.mask }, concurrency });
  g.add('batch', Batch, { params: { size: BATCH }, inputs: { image: flip.out.image, mask: flip.out.mask } });
  return g.build();
}

/** Items per second from the `started` to the `finished` event. */
function measure(graph: Graph): Promise<{ items: number; seconds: number }> {
  return new Promise((resolve) => {
    let started = 0;
    run(graph).subscribe((event) => {
      if (event.type === 'started') started = performance.now();
      if (event.type === 'failed') {
        process.stderr.write(`bench:data: run failed: ${event.error}\n`);
        process.exit(1);
      }
      if (event.type === 'finished') resolve({ items: event.items, seconds: (performance.now() - started) / 1000 });
    });
  });
}

async function main(): Promise<void> {
  let root = KVASIR;
  let temp: string | undefined;
  if (!existsSync(join(KVASIR, 'images'))) {
    temp = mkdtempSync(join(os.tmpdir(), 'samflow-bench-data-'));
    await writeSynthetic(temp);
    root = temp;
  }
  const source = temp ? `${SYNTHETIC} synthetic pairs (${root})` : `the real Kvasir-SEG images in ${root}`;
  process.stdout.write(`bench:data on ${source}; ${os.cpus().length} cores, sharp concurrency ${sharp.concurrency()}, libvips ${sharp.versions.vips}\n`);
  process.stdout.write(`pipeline: paired-folders (decode JPEG + mask) -> resize-longest-side ${SIZE} + pad -> random-flip -> batch ${BATCH} (NHWC float32)\n`);
  await measure(pipeline(root, 2, true)); // warm-up: file cache, sharp, JIT
  const decode = await measure(pipeline(root, 1, false));
  process.stdout.write(`decode only                 ${(decode.items / decode.seconds).toFixed(1).padStart(6)} images/s (${decode.items} in ${decode.seconds.toFixed(2)} s)\n`);
  for (const concurrency of CONCURRENCY) {
    const r = await measure(pipeline(root, concurrency, true));
    process.stdout.write(`decode+augment+batch, c=${concurrency}  ${(r.items / r.seconds).toFixed(1).padStart(6)} images/s (${r.items} in ${r.seconds.toFixed(2)} s)\n`);
  }
  if (temp) rmSync(temp, { recursive: true, force: true });
}

await main();
