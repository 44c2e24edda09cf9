/**
 * NYUv2 as MTAN / LibMTL pre-process it, for multi-task learning:
 * `{train,val}/{image,label,depth,normal}/N.npy` (val is the usual test set), with
 * image 288x384x3 float in [0, 1], label 288x384 float class ids (13 classes, -1 = ignore),
 * depth 288x384x1 float metres (0 = invalid), normal 288x384x3 unit vectors ((0,0,0) = invalid).
 * The image becomes 8-bit RGB, the label a LabelMap (-1 -> 255); depth and normals stay float.
 *
 * MTAN's Cityscapes has the same layout without normals: `{train,val}/{image,label_7,depth}/N.npy`
 * (128x256, 7 or 19 classes in label_7 / label_19 via `labelDir`, inverse depth with 0 = invalid).
 * A split folder without `normal/` is read too; its NormalMap is all zeros, which the port defines
 * as invalid everywhere, so a normals loss or metric on it has nothing to score (the pipeline
 * refuses a normals task there: `splitsWithoutNormals`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { DepthMap, IGNORE_LABEL, Image, LabelMap, NormalMap, type FloatImage, type RawImage } from '../ports.ts';
import { readNpy, type NpyArray } from './npy.ts';
import { ReaderParams, readerSource } from './dataset-source.ts';
import { DecodeError } from './decode.ts';
import {
  describeFolder,
  filesOf,
  findChild,
  LayoutError,
  naturalCompare,
  requireFolder,
  splitNameFor,
  stemOf,
  subdirectories,
  type Entry,
  type Listing,
  type SplitListing,
  type Unpaired,
} from './listing.ts';

export const NYU_TASKS = ['image', 'label', 'depth', 'normal'] as const;
type NyuTask = (typeof NYU_TASKS)[number];

/** Lists `{split}/{image,label,depth[,normal]}/N.npy`; `labelDir` renames the label folder (e.g. 'label_7'). */
export function listNyuv2Mtan(root: string, labelDir = 'label'): Listing {
  requireFolder(root);
  const folders = { image: 'image', label: labelDir, depth: 'depth', normal: 'normal' };
  const splitDirs = subdirectories(root).filter((d) => findChild(join(root, d), 'image') && findChild(join(root, d), folders.label));
  if (!splitDirs.length) {
    throw new LayoutError(`${root}: no MTAN NYUv2 / Cityscapes layout found (expected {train,val}/{image,${labelDir},depth[,normal]}/N.npy); it holds: ${describeFolder(root)}`);
  }
  const splits: SplitListing[] = [];
  const unpaired: Unpaired[] = [];
  const ignored: Unpaired[] = [];
  let normals = false;
  for (const dir of splitDirs) {
    // normal/ is optional (MTAN Cityscapes has none); the other three are not.
    const tasks = NYU_TASKS.filter((t) => t !== 'normal' || findChild(join(root, dir), folders.normal));
    normals ||= tasks.includes('normal');
    const byTask = new Map<string, Map<string, string>>();
    for (const task of tasks) {
      const name = folders[task];
      const folder = findChild(join(root, dir), name);
      if (!folder) throw new LayoutError(`${join(root, dir)}: no '${name}/' folder (expected ${tasks.map((t) => folders[t]).join(', ')})`);
      const files = new Map<string, string>();
      for (const f of filesOf(folder)) {
        if (f.toLowerCase().endsWith('.npy')) files.set(stemOf(f), join(folder, f));
        else ignored.push({ file: join(folder, f), reason: 'not an .npy file' });
      }
      byTask.set(task, files);
    }
    const ids = [...new Set([...byTask.values()].flatMap((m) => [...m.keys()]))].sort(naturalCompare);
    const entries: Entry[] = [];
    for (const id of ids) {
      const files: Record<string, string> = {};
      const missing = tasks.filter((t) => !byTask.get(t)!.has(id));
      if (missing.length) {
        for (const t of tasks) {
          const file = byTask.get(t)!.get(id);
          if (file) unpaired.push({ file, reason: `sample ${id} has no ${missing.map((m) => `${folders[m]}/${id}.npy`).join(', ')}` });
        }
        continue;
      }
      for (const t of tasks) files[t] = byTask.get(t)!.get(id)!;
      entries.push({ id, files });
    }
    splits.push({ name: splitNameFor(dir), where: dir, entries });
  }
  return {
    layout: 'nyuv2-mtan',
    variant: labelDir === 'label' ? 'nyuv2' : labelDir,
    description: `{split}/{image,${labelDir},depth${normals ? ',normal' : ''}}/N.npy (MTAN pre-processed${normals ? '' : '; no normal/ folder, so no surface normals'})`,
    root,
    targets: 'multi-task',
    splits,
    unpaired,
    ignored,
  };
}

/** The split folders of a listing that have no `normal/` folder (their samples' normals are all invalid). */
export function splitsWithoutNormals(listing: Listing): string[] {
  return listing.splits.filter((s) => !findChild(join(listing.root, s.where), 'normal')).map((s) => join(listing.root, s.where));
}

async function loadNpy(file: string, what: string): Promise<NpyArray> {
  try {
    return readNpy(await readFile(file), file);
  } catch (error) {
    const message = (error as Error).message.replace(`${file}: `, '');
    throw new DecodeError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? `no such file (expected the ${what})` : `cannot read the ${what}: ${message}`);
  }
}

const toNumber = (array: NpyArray, i: number) => Number(array.data[i]!);

/** [H, W, C] (or [H, W] when C = 1) in HWC order, accepting CHW when the channel count is first. */
function hwc(array: NpyArray, channels: number, file: string, what: string): { width: number; height: number; at: (y: number, x: number, c: number) => number } {
  const s = array.shape;
  if (s.length === 2 && channels === 1) return { height: s[0]!, width: s[1]!, at: (y, x) => toNumber(array, y * s[1]! + x) };
  if (s.length === 3 && s[2] === channels) return { height: s[0]!, width: s[1]!, at: (y, x, c) => toNumber(array, (y * s[1]! + x) * channels + c) };
  if (s.length === 3 && s[0] === channels) return { height: s[1]!, width: s[2]!, at: (y, x, c) => toNumber(array, (c * s[1]! + y) * s[2]! + x) };
  throw new DecodeError(file, `${what} has shape [${s.join(', ')}]; expected [H, W, ${channels}]${channels === 1 ? ' or [H, W]' : ''}`);
}

export async function decodeNyuSample(
  files: Readonly<Record<string, string>>,
): Promise<{ image: RawImage; label: RawImage; depth: FloatImage; normal: FloatImage }> {
  const tasks = NYU_TASKS.filter((t) => t !== 'normal' || files.normal !== undefined);
  const [imageNpy, labelNpy, depthNpy, normalNpy] = await Promise.all(tasks.map((t: NyuTask) => loadNpy(files[t]!, `${t} array`)));
  const image = hwc(imageNpy!, 3, files.image!, 'image');
  const { width, height } = image;
  const maps = {
    label: hwc(labelNpy!, 1, files.label!, 'label'),
    depth: hwc(depthNpy!, 1, files.depth!, 'depth'),
    ...(normalNpy ? { normal: hwc(normalNpy, 3, files.normal!, 'normal') } : {}),
  };
  for (const [task, map] of Object.entries(maps)) {
    if (map.width !== width || map.height !== height) {
      throw new DecodeError(files[task]!, `${task} is ${map.width}x${map.height} but its image ${files.image} is ${width}x${height}`);
    }
  }
  // Images in [0, 1] are scaled to 8 bits; 8-bit images are taken as they are.
  const scale = imageNpy!.dtype === '|u1' ? 1 : 255;
  const rgb = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  const depth = new Float32Array(width * height);
  // Without a normal file the map stays (0, 0, 0): invalid everywhere.
  const normal = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      for (let c = 0; c < 3; c++) {
        rgb[i * 3 + c] = Math.max(0, Math.min(255, Math.round(image.at(y, x, c) * scale)));
        if (maps.normal) normal[i * 3 + c] = maps.normal.at(y, x, c);
      }
      const id = maps.label.at(y, x, 0);
      if (id < 0) label[i] = IGNORE_LABEL;
      else if (Number.isInteger(id) && id < IGNORE_LABEL) label[i] = id;
      else throw new DecodeError(files.label!, `pixel ${x},${y} has class ${id}; expected an integer class id 0..254 or -1 (ignore)`);
      depth[i] = maps.depth.at(y, x, 0);
    }
  }
  return {
    image: { width, height, channels: 3, data: rgb },
    label: { width, height, channels: 1, data: label },
    depth: { width, height, channels: 1, data: depth },
    normal: { width, height, channels: 3, data: normal },
  };
}

export const Nyuv2MtanParams = ReaderParams.extend({
  labelDir: z.string().min(1).default('label').describe("the segmentation folder's name ('label_7' in MTAN's Cityscapes)"),
});

export const Nyuv2Mtan = defineNode({
  kind: 'data/nyuv2-mtan',
  description: 'reads MTAN-format NYUv2 / Cityscapes .npy files: image, class label, depth and surface normals (all invalid where the data has no normal/ folder)',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, label: LabelMap, depth: DepthMap, normal: NormalMap },
  params: Nyuv2MtanParams,
  main: readerSource(Nyuv2MtanParams, {
    list: (p) => listNyuv2Mtan(p.root, p.labelDir),
    decode: (entry) => decodeNyuSample(entry.files),
  }),
});
