/**
 * The prediction writer: one 8-bit grey PNG per image, `<dir>/<id>.png`, at the image's original
 * size. Each probability map (the network's NHW1 output, e.g. 64x64 or 1024x1024) is resized to
 * the size its SampleInfo records with PyTorch's bilinear (align_corners=False, as the
 * benchmarks resize before scoring), then written as a 0/255 mask (foreground where the
 * probability is above `threshold`) or, with `probs`, as grey levels round(p · 255). The map
 * must cover the whole image, as after ResizeSquare (Conv-LoRA's geometry); a map of a padded
 * input (ResizeLongestSide) would need its padding cropped first, which this node does not do.
 *
 * A PNG is encoded to a temporary file beside its target and then linked into place, so a
 * killed run leaves whole PNGs or none, and an existing `<id>.png` (from an earlier run, or two
 * samples sharing an id) is an error naming it, never overwritten.
 *
 * ```ts
 * g.add('write', WriteMasks, { params: { dir: 'out/masks' }, inputs: { probs: seg.out.probs, infos: batch.out.infos } });
 * ```
 */
import { existsSync } from 'node:fs';
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { checkTensorData } from '../../graph/port.ts';
import { MaskProbs, SampleInfos, type SampleInfo } from '../ports.ts';
import { resizeBilinear } from '../metrics/resize-bilinear.ts';

export const WriteMasksParams = z.object({
  dir: z.string().min(1).describe('folder for the PNGs, made if missing; an <id>.png already there is an error, never overwritten'),
  probs: z.boolean().default(false).describe('write probabilities as grey levels round(p * 255) instead of a 0/255 mask'),
  threshold: z.number().min(0).max(1).default(0.5).describe('binary masks: foreground (255) where the probability is above this'),
});
export type WriteMasksParams = z.output<typeof WriteMasksParams>;

/** One probability plane as 8-bit grey at `width` x `height`: 0/255 at the threshold, or round(p · 255). */
export function maskPixels(plane: Float32Array, planeWidth: number, planeHeight: number, width: number, height: number, options: { probs: boolean; threshold: number }): Uint8Array {
  const resized = resizeBilinear(plane, planeWidth, planeHeight, width, height);
  const out = new Uint8Array(resized.length);
  if (options.probs) {
    for (let i = 0; i < resized.length; i++) out[i] = Math.round(Math.min(Math.max(resized[i]!, 0), 1) * 255);
  } else {
    const t = options.threshold;
    for (let i = 0; i < resized.length; i++) out[i] = resized[i]! > t ? 255 : 0;
  }
  return out;
}

/** The id must name a file in `dir`, not a path out of it. */
function checkId(info: SampleInfo): void {
  if (!info.id || info.id === '.' || info.id === '..' || /[/\\\0]/.test(info.id)) {
    throw new Error(`sample id '${info.id}' (image ${info.file}) cannot name a PNG file: expected a plain file name without '/' or '\\'`);
  }
}

/**
 * Claims every id of a batch in `written` (id -> image file, across a whole run) before any
 * write, so concurrent batches cannot both take one; an id twice is an error naming both images.
 */
export function claimIds(written: Map<string, string>, infos: readonly SampleInfo[], dir: string): void {
  for (const info of infos) {
    checkId(info);
    const seen = written.get(info.id);
    if (seen !== undefined) throw new Error(`two images share the id '${info.id}': ${seen} and ${info.file}; both masks would be ${join(dir, `${info.id}.png`)}`);
    written.set(info.id, info.file);
  }
}

const alreadyThere = (target: string) =>
  new Error(`${target} already exists (from an earlier run?); write-masks never overwrites a file: choose another --out folder, or remove it`);

/**
 * Writes `bytes` to `target` through a temporary file beside it: whole or not at all, and never
 * over an existing file (a hard link fails if the target exists; where the file system has no
 * hard links, an existence check and a rename stand in).
 */
export async function writeNew(target: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(temp, bytes);
  try {
    try {
      await link(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw alreadyThere(target);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
      if (existsSync(target)) throw alreadyThere(target);
      await rename(temp, target);
    }
  } finally {
    await unlink(temp).catch(() => undefined); // gone already after a rename
  }
}

export const WriteMasks = defineNode({
  kind: 'report/write-masks',
  description: 'writes each image’s mask as <dir>/<id>.png at its original size (0/255, or probabilities as grey levels), atomically, never overwriting',
  placement: 'main',
  inputs: { probs: MaskProbs, infos: SampleInfos },
  outputs: {},
  params: WriteMasksParams,
  main: {
    type: 'map',
    concurrency: 2,
    create: (p, ctx) => {
      const written = new Map<string, string>(); // id -> image file, across the whole run
      let count = 0;
      let made: Promise<unknown> | undefined;
      return {
        async process({ probs, infos }) {
          if (probs.dtype !== 'float32' || probs.shape.length !== 4 || probs.shape[3] !== 1) {
            throw new Error(`probs must be float32 NHW1, got ${probs.dtype} [${probs.shape.join(', ')}]`);
          }
          checkTensorData(probs, 'probs');
          const [batch, height, width] = probs.shape as [number, number, number, number];
          if (infos.length !== batch) throw new Error(`probs holds ${batch} images but infos ${infos.length}; expected one SampleInfo per image (connect the batch node's infos)`);
          claimIds(written, infos, p.dir);
          await (made ??= mkdir(p.dir, { recursive: true }));
          const per = width * height;
          const writes = await Promise.allSettled(
            infos.map(async (info, b) => {
              const plane = probs.data.subarray(b * per, (b + 1) * per) as Float32Array;
              const pixels = maskPixels(plane, width, height, info.width, info.height, p);
              const png = await sharp(pixels, { raw: { width: info.width, height: info.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
              await writeNew(join(p.dir, `${info.id}.png`), png);
              count++;
            }),
          );
          // The batch's first failure in image order, not whichever write failed first.
          const failed = writes.find((w): w is PromiseRejectedResult => w.status === 'rejected');
          if (failed) throw failed.reason;
          return {};
        },
        finish() {
          ctx.emit({ type: 'log', message: `wrote ${count} mask PNG${count === 1 ? '' : 's'} to ${p.dir}`, data: { dir: p.dir, count, probs: p.probs, threshold: p.threshold } });
        },
      };
    },
  },
});
