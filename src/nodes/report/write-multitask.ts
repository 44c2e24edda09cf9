/**
 * The multi-task prediction writer (TA-LoRA / mSAM): per image and task one PNG in that task's
 * subfolder, `<dir>/<task>/<id>.png`, at the image's original size:
 *
 * - segmentation: 8-bit class ids (the format the class-index readers take back);
 * - depth: 16-bit grey, value = round(depth × `depthScale`), by default millimetres (1000 per
 *   metre; 0 … 65.535 m, clamped), so depth = value / 1000 m; 0 = no depth (a non-positive prediction);
 * - normals: 8-bit RGB, channel = round((n + 1) / 2 × 255) for n's x, y, z (x right, y up, z
 *   towards the camera): the usual normal-map colouring, n ≈ channel / 127.5 − 1.
 *
 * A map whose size differs from the image's is resized nearest-neighbour (values are not
 * interpolated). Each file is written atomically and never over an existing one (report/write-masks).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { DepthBatch, LabelBatch, NormalBatch, SampleInfos, type SampleInfo } from '../ports.ts';
import { claimIds, writeNew } from './write-masks.ts';

/** One image's HWC plane of `channels` values, resized nearest-neighbour (source = floor(dst · in / out)). */
export function nearestPlane(plane: ArrayLike<number>, width: number, height: number, channels: number, toWidth: number, toHeight: number): Float64Array {
  const out = new Float64Array(toWidth * toHeight * channels);
  for (let y = 0; y < toHeight; y++) {
    const sy = Math.min(Math.floor((y * height) / toHeight), height - 1);
    for (let x = 0; x < toWidth; x++) {
      const sx = Math.min(Math.floor((x * width) / toWidth), width - 1);
      for (let c = 0; c < channels; c++) out[(y * toWidth + x) * channels + c] = plane[(sy * width + sx) * channels + c]!;
    }
  }
  return out;
}

/** Depth in metres → 16-bit units of 1/scale m (0 for no or negative depth, 65535 at most). */
export function depthToUint16(depth: ArrayLike<number>, scale: number): Uint16Array {
  const out = new Uint16Array(depth.length);
  for (let i = 0; i < depth.length; i++) out[i] = Math.max(0, Math.min(65535, Math.round(depth[i]! * scale)));
  return out;
}

/** Unit normals → RGB, (n + 1) / 2 × 255 per component. */
export function normalsToRgb(normals: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(normals.length);
  for (let i = 0; i < normals.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((normals[i]! + 1) / 2) * 255)));
  return out;
}

const TaskFolder = z.string().min(1).regex(/^[^/\\\0]+$/, 'a plain folder name');

export const WriteMultiTask = defineNode({
  kind: 'report/write-multitask',
  description: 'writes each image’s predicted class ids (8-bit), depth (16-bit, mm) and normals (RGB) as <dir>/<task>/<id>.png at its original size, atomically, never overwriting',
  placement: 'main',
  inputs: { seg: optional(LabelBatch), depth: optional(DepthBatch), normals: optional(NormalBatch), infos: SampleInfos },
  outputs: {},
  params: z.object({
    dir: z.string().min(1).describe('folder holding one subfolder per task, made if missing; an existing <id>.png is an error, never overwritten'),
    folders: z
      .object({ seg: TaskFolder.optional(), depth: TaskFolder.optional(), normals: TaskFolder.optional() })
      .strict()
      .describe('subfolder of each connected input: its task name'),
    classes: z.number().int().min(2).max(255).optional().describe('segmentation classes (ids 0..classes-1); needed with seg'),
    depthScale: z.number().positive().default(1000).describe('16-bit depth units per metre (1000: millimetres)'),
  }),
  main: {
    type: 'map',
    concurrency: 2,
    create: (p, ctx) => {
      const written = new Map<string, string>();
      const counts = { seg: 0, depth: 0, normals: 0 };
      const folderOf = (port: keyof typeof counts) => {
        const folder = p.folders[port];
        if (!folder) throw new Error(`node '${ctx.node}': input '${port}' is connected but params.folders.${port} names no subfolder for it`);
        return join(p.dir, folder);
      };
      const planes = (batch: TensorData, what: string, channels: number, infos: readonly SampleInfo[]) => {
        if (batch.shape.length !== 4 || batch.shape[3] !== channels) throw new Error(`node '${ctx.node}': ${what} must be NHW${channels}, got [${batch.shape.join(', ')}]`);
        checkTensorData(batch, what);
        const [n, height, width] = batch.shape as [number, number, number, number];
        if (n !== infos.length) throw new Error(`node '${ctx.node}': ${what} holds ${n} images but infos ${infos.length}; expected one SampleInfo per image (connect the batch node's infos)`);
        const per = width * height * channels;
        return infos.map((info, b) => {
          const plane = batch.data.subarray(b * per, (b + 1) * per);
          return width === info.width && height === info.height ? plane : nearestPlane(plane, width, height, channels, info.width, info.height);
        });
      };
      return {
        async process({ seg, depth, normals, infos }) {
          claimIds(written, infos, p.dir);
          const png = (data: Uint8Array | Uint16Array, info: SampleInfo, channels: 1 | 3) => {
            const image = sharp(data, { raw: { width: info.width, height: info.height, channels } });
            return (channels === 1 ? image.toColourspace(data instanceof Uint16Array ? 'grey16' : 'b-w') : image).png().toBuffer();
          };
          if (seg) {
            if (p.classes === undefined) throw new Error(`node '${ctx.node}': input 'seg' is connected but params.classes is not set`);
            const dir = folderOf('seg');
            await mkdir(dir, { recursive: true });
            for (const [b, plane] of planes(seg, 'seg', 1, infos).entries()) {
              const bad = plane.findIndex((v) => !(v >= 0 && v < p.classes!));
              if (bad >= 0) throw new Error(`node '${ctx.node}': predicted class ${plane[bad]} for ${infos[b]!.file} is outside 0..${p.classes - 1}`);
              await writeNew(join(dir, `${infos[b]!.id}.png`), await png(Uint8Array.from(plane), infos[b]!, 1));
              counts.seg++;
            }
          }
          if (depth) {
            const dir = folderOf('depth');
            await mkdir(dir, { recursive: true });
            for (const [b, plane] of planes(depth, 'depth', 1, infos).entries()) {
              await writeNew(join(dir, `${infos[b]!.id}.png`), await png(depthToUint16(plane, p.depthScale), infos[b]!, 1));
              counts.depth++;
            }
          }
          if (normals) {
            const dir = folderOf('normals');
            await mkdir(dir, { recursive: true });
            for (const [b, plane] of planes(normals, 'normals', 3, infos).entries()) {
              await writeNew(join(dir, `${infos[b]!.id}.png`), await png(normalsToRgb(plane), infos[b]!, 3));
              counts.normals++;
            }
          }
          return {};
        },
        finish() {
          const parts = (Object.keys(counts) as (keyof typeof counts)[]).filter((k) => p.folders[k] !== undefined).map((k) => `${counts[k]} ${k} PNG(s) in ${join(p.dir, p.folders[k]!)}`);
          ctx.emit({ type: 'log', message: `wrote ${parts.join(', ')}`, data: { dir: p.dir, counts } });
        },
      };
    },
  },
});
