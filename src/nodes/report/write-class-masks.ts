/**
 * The multi-class prediction writer: one single-channel 8-bit PNG of class ids per image,
 * `<dir>/<id>.png`, at the image's original size (the predicted id map, e.g. 1024x1024, resized
 * nearest-neighbour: ids cannot be interpolated), the format the class-index readers take back.
 * With `palette`, also `<dir>/colour/<id>.png`, the same map in RGB, one colour per class (the
 * synthetic set's colours), for looking at. Written whole or not at all and never over an
 * existing file, as report/write-masks.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { checkTensorData } from '../../graph/port.ts';
import { classColour } from '../data/synthetic-classes.ts';
import { LabelBatch, SampleInfos } from '../ports.ts';
import { claimIds, writeNew } from './write-masks.ts';

/** One id plane resized nearest-neighbour (PyTorch's 'nearest': source = floor(dst · in / out)). */
export function resizeNearest(plane: ArrayLike<number>, width: number, height: number, toWidth: number, toHeight: number): Uint8Array {
  const out = new Uint8Array(toWidth * toHeight);
  for (let y = 0; y < toHeight; y++) {
    const sy = Math.min(Math.floor((y * height) / toHeight), height - 1);
    for (let x = 0; x < toWidth; x++) out[y * toWidth + x] = plane[sy * width + Math.min(Math.floor((x * width) / toWidth), width - 1)]!;
  }
  return out;
}

/** Class ids as RGB, class k in classColour(k) and the background (0) black. */
export function colourise(ids: Uint8Array, classes: number): Uint8Array {
  const colours = Array.from({ length: 256 }, (_, k) => (k === 0 || k >= classes ? [0, 0, 0] : classColour(k, classes).map(Math.round)));
  const out = new Uint8Array(ids.length * 3);
  ids.forEach((id, i) => out.set(colours[id]!, i * 3));
  return out;
}

export const WriteClassMasks = defineNode({
  kind: 'report/write-class-masks',
  description: 'writes each image’s predicted class ids as <dir>/<id>.png at its original size (and a colour PNG), atomically, never overwriting',
  placement: 'main',
  inputs: { labels: LabelBatch, infos: SampleInfos },
  outputs: {},
  params: z.object({
    dir: z.string().min(1).describe('folder for the PNGs, made if missing; an <id>.png already there is an error, never overwritten'),
    classes: z.number().int().min(2).max(255).describe('number of classes (ids 0..classes-1)'),
    palette: z.boolean().default(false).describe('also write colour/<id>.png, one colour per class'),
  }),
  main: {
    type: 'map',
    concurrency: 2,
    create: (p, ctx) => {
      const written = new Map<string, string>();
      let count = 0;
      return {
        async process({ labels, infos }) {
          if (labels.shape.length !== 4 || labels.shape[3] !== 1) throw new Error(`labels must be NHW1 class ids, got [${labels.shape.join(', ')}]`);
          checkTensorData(labels, 'labels');
          const [batch, height, width] = labels.shape as [number, number, number, number];
          if (infos.length !== batch) throw new Error(`labels hold ${batch} images but infos ${infos.length}; expected one SampleInfo per image (connect the batch node's infos)`);
          claimIds(written, infos, p.dir);
          await mkdir(p.palette ? join(p.dir, 'colour') : p.dir, { recursive: true });
          const per = width * height;
          for (const [b, info] of infos.entries()) {
            const plane = labels.data.subarray(b * per, (b + 1) * per);
            const bad = plane.findIndex((v) => !(v >= 0 && v < p.classes));
            if (bad >= 0) throw new Error(`predicted class ${plane[bad]} for ${info.file} is outside 0..${p.classes - 1}`);
            const ids = resizeNearest(plane, width, height, info.width, info.height);
            const raw = { width: info.width, height: info.height };
            await writeNew(join(p.dir, `${info.id}.png`), await sharp(ids, { raw: { ...raw, channels: 1 } }).toColourspace('b-w').png().toBuffer());
            if (p.palette) await writeNew(join(p.dir, 'colour', `${info.id}.png`), await sharp(colourise(ids, p.classes), { raw: { ...raw, channels: 3 } }).png().toBuffer());
            count++;
          }
          return {};
        },
        finish() {
          ctx.emit({ type: 'log', message: `wrote ${count} class-id PNG${count === 1 ? '' : 's'} to ${p.dir}${p.palette ? ' (and colour/)' : ''}`, data: { dir: p.dir, count, palette: p.palette } });
        },
      };
    },
  },
});
