/**
 * `samflow sam-forward`: one SAM forward pass on one image, written as float32 .npy in the
 * official layouts, for parity checks against the PyTorch implementation.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp, { type Metadata } from 'sharp';
import type { Command } from 'commander';
import { readNpy, writeNpy } from '../nodes/data/npy.ts';
import { describeRandom, loadSamCheckpoint } from '../nodes/sam/checkpoint/load.ts';
import { samConfigFromArg, type SamConfig } from '../nodes/sam/config.ts';
import type { SamPrompts } from '../nodes/sam/prompt-encoder.ts';
import { samForward } from '../nodes/sam/sam.ts';
import { normalizeAndPad, resizedShape, scaleCoords } from '../nodes/sam/transforms.ts';
import { parseBackendChoice, selectBackend } from '../../workers/backend.ts';
import { parseBox, parsePoints } from './sam-prompt-args.ts';

interface Options {
  arch: string;
  checkpoint: string;
  image: string;
  outDir: string;
  point: string[];
  box?: string;
  backend?: string;
  allowPartial?: boolean;
}

/** RGB pixels [h, w, 3] in 0..255 with the longest side at image_size, plus the original size. */
async function loadImage(path: string, c: SamConfig): Promise<{ pixels: Float32Array; size: [number, number]; original: [number, number] }> {
  if (path.endsWith('.npy')) {
    const { shape, data } = readNpy(readFileSync(path), path);
    if (shape.length !== 3 || shape[2] !== 3) throw new Error(`${path}: an .npy image must be [H, W, 3] RGB, got [${shape.join(', ')}]`);
    if (Math.max(shape[0]!, shape[1]!) !== c.image_size) {
      throw new Error(`${path}: an .npy image must already have its longest side at image_size ${c.image_size}, got [${shape.join(', ')}] (give a .png/.jpg to have it resized)`);
    }
    const pixels = Float32Array.from(data as ArrayLike<number>);
    return { pixels, size: [shape[0]!, shape[1]!], original: [shape[0]!, shape[1]!] };
  }
  let meta: Metadata;
  try {
    meta = await sharp(path).metadata();
  } catch (error) {
    throw new Error(`${path}: cannot decode the image (${error instanceof Error ? error.message : String(error)})`);
  }
  // EXIF orientation may swap width and height.
  const rotated = (meta.orientation ?? 1) >= 5;
  const original: [number, number] = rotated ? [meta.width!, meta.height!] : [meta.height!, meta.width!];
  const [h, w] = resizedShape(original[0], original[1], c.image_size);
  const { data } = await sharp(path).rotate().removeAlpha().toColourspace('srgb').resize(w, h, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
  return { pixels: Float32Array.from(data), size: [h, w], original };
}

export function registerSamForward(program: Command): void {
  program
    .command('sam-forward')
    .description('run SAM once on an image and write image_embeddings.npy, low_res_logits.npy (all mask tokens) and iou_predictions.npy')
    .requiredOption('--arch <preset|arch.json>', 'vit_b, vit_l, vit_h, or a JSON config with the official builder keys')
    .requiredOption('--checkpoint <file>', 'official .pth or Hugging Face .safetensors')
    .requiredOption('--image <file>', '.npy [H, W, 3] RGB 0..255 with its longest side at image_size, or a .png/.jpg (resized)')
    .requiredOption('--out-dir <dir>', 'where the .npy files go')
    .option('--point <x,y,label>', 'a point prompt in image pixels, label 1 (foreground) or 0 (background); repeatable', (v: string, acc: string[]) => [...acc, v], [])
    .option('--box <x0,y0,x1,y1>', 'a box prompt in image pixels')
    .option('--backend <name>', 'tensor backend (default: $SAMFLOW_BACKEND, else the best that loads)')
    .option('--allow-partial', 'load the tensors that match and keep the rest randomly initialised')
    .action(async (opts: Options) => {
      await selectBackend(parseBackendChoice(opts.backend ?? process.env.SAMFLOW_BACKEND, opts.backend !== undefined ? '--backend' : 'SAMFLOW_BACKEND'));
      const config = samConfigFromArg(opts.arch);
      const image = await loadImage(opts.image, config);
      // Checked against the image before any weight is read.
      const points = parsePoints(opts.point, image.original);
      const box = opts.box !== undefined ? parseBox(opts.box, image.original) : undefined;
      const { params, report } = await loadSamCheckpoint(opts.checkpoint, config, { allowPartial: opts.allowPartial === true });
      const outputs = tf.tidy(() => {
        const prompts: SamPrompts = {
          ...(points.length
            ? {
                points: {
                  coords: tf.tensor3d([points.map((p) => scaleCoords(p.slice(0, 2), image.original, config.image_size))]),
                  labels: tf.tensor2d([points.map((p) => p[2]!)]),
                },
              }
            : {}),
          ...(box ? { boxes: tf.tensor2d([scaleCoords(box, image.original, config.image_size)]) } : {}),
        };
        const images = normalizeAndPad(tf.tensor4d(image.pixels, [1, image.size[0], image.size[1], 3]), config.image_size);
        const out = samForward(images, prompts, params, config);
        return { embeddings: out.imageEmbeddings.transpose([0, 3, 1, 2]), masks: out.masks, iou: out.iou };
      });
      mkdirSync(opts.outDir, { recursive: true });
      for (const [file, t] of [['image_embeddings.npy', outputs.embeddings], ['low_res_logits.npy', outputs.masks], ['iou_predictions.npy', outputs.iou]] as const) {
        writeFileSync(join(opts.outDir, file), writeNpy(t.dataSync() as Float32Array, t.shape));
        process.stdout.write(`wrote ${join(opts.outDir, file)} [${t.shape.join(', ')}]\n`);
      }
      const random = describeRandom(report, Infinity);
      process.stdout.write(`${report.loaded} tensors from ${report.path} (${report.format}, ${report.naming} names) on ${tf.getBackend()}${random ? `; ${random}` : ''}\n`);
      tf.dispose([outputs.embeddings, outputs.masks, outputs.iou, ...params.values()]);
    });
}
