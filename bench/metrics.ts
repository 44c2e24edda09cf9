/**
 * Metric benchmark: `npm run bench:metrics` (node --import tsx bench/metrics.ts).
 *
 * Scores synthetic 1024×1024 predictions on the full binary set (iou, dice, sm, em, wfm, mae,
 * ber) and prints images/s (a) on the main thread, one image at a time, and (b) through the
 * metric pool, while sampling the main thread's event-loop delay (monitorEventLoopDelay, 1 ms
 * resolution). The pool's p99 delay is what a training run's progress bar and stream feel
 * during evaluation; the target is p99 < 20 ms.
 *
 * Prints figures and asserts nothing. Options: --images N (default 24), --size S (1024),
 * --threads T (the pool's default size).
 */
import { availableParallelism, cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { BinaryImage } from '../src/nodes/metrics/binary-image.ts';
import { BINARY_METRICS, scoreBinaryImage } from '../src/nodes/metrics/binary-metrics.ts';
import { MetricPool, defaultPoolSize } from '../src/nodes/metrics/pool.ts';

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '24' },
    size: { type: 'string', default: '1024' },
    threads: { type: 'string' },
  },
});
const IMAGES = Number(args.images);
const SIZE = Number(args.size);
const THREADS = args.threads !== undefined ? Number(args.threads) : defaultPoolSize();
const MAIN_IMAGES = 3;

/** A deterministic blob mask and a noisy, blurred-looking probability map around it. */
function syntheticImage(seed: number, size: number): BinaryImage {
  const pred = new Float32Array(size * size);
  const gt = new Uint8Array(size * size);
  let s = seed * 2654435761;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const blobs = Array.from({ length: 3 }, () => ({ r: rand() * size, c: rand() * size, radius: size * (0.05 + 0.15 * rand()) }));
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      let field = 0;
      for (const b of blobs) field = Math.max(field, 1 - Math.hypot(r - b.r, c - b.c) / b.radius);
      const i = r * size + c;
      gt[i] = field > 0 ? 255 : 0;
      const noisy = 0.5 + 2 * field + 0.3 * Math.sin(r * 0.05 + seed) * Math.cos(c * 0.07) + 0.2 * (rand() - 0.5);
      pred[i] = 1 / (1 + Math.exp(-4 * (noisy - 0.5)));
    }
  }
  return { width: size, height: size, pred, gt };
}

function ms(ns: number): string {
  return (ns / 1e6).toFixed(1);
}

async function main(): Promise<void> {
  process.stdout.write(`bench:metrics — ${IMAGES} images of ${SIZE}x${SIZE}, metrics ${BINARY_METRICS.join(', ')}\n`);
  process.stdout.write(`machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), node ${process.version}\n`);
  const t0 = performance.now();
  const images = Array.from({ length: IMAGES }, (_, i) => syntheticImage(i + 1, SIZE));
  process.stdout.write(`made the images in ${((performance.now() - t0) / 1000).toFixed(1)} s\n\n`);

  // (a) on the main thread, yielding to the event loop between images (as a main-thread node would)
  const mainDelay = monitorEventLoopDelay({ resolution: 1 });
  mainDelay.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const tMain = performance.now();
  for (let i = 0; i < MAIN_IMAGES; i++) {
    scoreBinaryImage(images[i]!, BINARY_METRICS);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const mainSeconds = (performance.now() - tMain) / 1000;
  mainDelay.disable();
  process.stdout.write(
    `main thread, 1 image at a time: ${(MAIN_IMAGES / mainSeconds).toFixed(2)} images/s (${((mainSeconds / MAIN_IMAGES) * 1000).toFixed(0)} ms per image); ` +
      `event-loop delay p99 ${ms(mainDelay.percentile(99))} ms, max ${ms(mainDelay.max)} ms\n`,
  );

  // (b) through the pool; warm the threads (start + tsx load) before measuring
  const pool = new MetricPool(THREADS);
  const small = syntheticImage(99, 64);
  await Promise.all(Array.from({ length: THREADS }, () => pool.score(small, BINARY_METRICS)));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  delay.enable();
  const tPool = performance.now();
  const results = await Promise.all(images.map((img) => pool.score(img, BINARY_METRICS, { transfer: true })));
  const poolSeconds = (performance.now() - tPool) / 1000;
  delay.disable();
  clearInterval(ticker);
  await pool.close();
  const mean = (name: (typeof BINARY_METRICS)[number]) => results.reduce((s, r) => s + r[name]!, 0) / results.length;
  process.stdout.write(
    `metric pool, ${THREADS} threads:   ${(IMAGES / poolSeconds).toFixed(2)} images/s (${IMAGES} images in ${poolSeconds.toFixed(2)} s)\n` +
      `event-loop delay during the pool run: p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms ` +
      `(${ticks} of ~${Math.round((poolSeconds * 1000) / 10)} 10-ms ticks fired)\n`,
  );
  process.stdout.write(`p99 < 20 ms: ${delay.percentile(99) / 1e6 < 20 ? 'yes' : 'NO'}\n`);
  process.stdout.write(`means (sanity): ${BINARY_METRICS.map((n) => `${n} ${mean(n).toFixed(4)}`).join(', ')}\n`);
}

await main();
