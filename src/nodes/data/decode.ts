/**
 * Decoding image, mask and label files into 8-bit raw buffers with sharp (BMP through bmp.ts).
 * Every error names the file and what was expected. EXIF orientation is applied, so an image
 * and its mask line up as a viewer shows them; truncated files are errors, not grey tails.
 *
 * ```ts
 * const image = await decodeImage('images/a.jpg');            // RGB, channels 3
 * const mask = await decodeMask('masks/a.jpg');               // 0/1 after `> 127` (JPEG noise is normal)
 * const fitted = await fitToImage(mask, 'masks/a.jpg', image, 'images/a.jpg', { resize: false });
 * ```
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { IGNORE_LABEL, type RawImage } from '../ports.ts';
import { resizeNearest as resizeNearestRaster } from '../augment/geometry.ts';
import { decodeBmp, isBmp } from './bmp.ts';
import { readerOptionHint } from './option-hint.ts';

/** File name endings read as images (lower case). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp'] as const;

export function isImageFile(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/** A file that could not be decoded (missing, corrupt, truncated, or not what was expected). */
export class DecodeError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'DecodeError';
  }
}

/** Opens a file as a sharp pipeline, auto-oriented, failing on truncated data. */
async function open(file: string, what: string): Promise<Sharp> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DecodeError(file, code === 'ENOENT' ? `no such file (expected the ${what})` : `cannot read the ${what}: ${(error as Error).message}`);
  }
  if (isBmp(bytes)) {
    let raw: RawImage;
    try {
      raw = decodeBmp(bytes, file);
    } catch (error) {
      throw new DecodeError(file, `cannot decode the ${what}: ${(error as Error).message.replace(`${file}: `, '')}`);
    }
    return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } });
  }
  return sharp(bytes, { failOn: 'truncated', autoOrient: true });
}

/** Runs a sharp pipeline to raw 8-bit, turning sharp's errors into ones that name the file. */
async function toRaw(pipeline: Sharp, file: string, what: string, depth: 'uchar' | 'ushort' = 'uchar') {
  try {
    const { data, info } = await pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
    return { data, info };
  } catch (error) {
    throw new DecodeError(file, `cannot decode the ${what}: ${(error as Error).message} (expected an intact JPEG, PNG, TIFF or BMP image)`);
  }
}

function rawImage(data: Buffer, info: OutputInfo): RawImage {
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Decodes an image as 8-bit RGB (grey is expanded, alpha dropped). */
export async function decodeImage(file: string): Promise<RawImage> {
  const pipeline = (await open(file, 'image')).removeAlpha().toColourspace('srgb');
  const { data, info } = await toRaw(pipeline, file, 'image');
  if (info.channels !== 3) throw new DecodeError(file, `decoded to ${info.channels} channels; expected an RGB or grey image`);
  return rawImage(data, info);
}

/** Decodes a mask as 8-bit grey values as stored (colour masks by luminance), without binarising. */
export async function decodeGrey(file: string, what = 'mask'): Promise<RawImage> {
  const pipeline = (await open(file, what)).removeAlpha().toColourspace('b-w');
  const { data, info } = await toRaw(pipeline, file, what);
  if (info.channels !== 1) throw new DecodeError(file, `decoded to ${info.channels} channels; expected a single-channel ${what}`);
  return rawImage(data, info);
}

/**
 * Decodes a binary mask to 0/1: a pixel is foreground when its grey value is above `threshold`
 * (127: masks stored as 0/255; JPEG masks carry noise around both values).
 */
export async function decodeMask(file: string, threshold = 127): Promise<RawImage> {
  const grey = await decodeGrey(file, 'mask');
  const data = grey.data;
  for (let i = 0; i < data.length; i++) data[i] = data[i]! > threshold ? 1 : 0;
  return grey;
}

export interface LabelOptions {
  /** The data set's own ignore value; it becomes IGNORE_LABEL (255). */
  readonly ignoreLabel?: number;
  /** When given, any other value at or above it is an error. */
  readonly classes?: number;
}

/**
 * Decodes a class-index mask (one channel, values are class ids) exactly: no colour conversion,
 * no resampling. Lossy (JPEG), colour-coded and palette files are errors that say so.
 */
export async function decodeLabel(file: string, options: LabelOptions = {}): Promise<RawImage> {
  const ext = extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') throw new DecodeError(file, 'class-index masks must be lossless (PNG, TIFF or BMP); JPEG changes class ids');
  const pipeline = await open(file, 'class-index mask');
  let meta: Metadata;
  try {
    meta = await pipeline.metadata();
  } catch (error) {
    throw new DecodeError(file, `cannot decode the class-index mask: ${(error as Error).message} (expected an intact PNG, TIFF or BMP image)`);
  }
  if (meta.isPalette) {
    throw new DecodeError(file, 'is a palette PNG: its colours, not its class ids, would be read; save class ids as a single-channel (greyscale) PNG');
  }
  const wide = meta.depth === 'ushort';
  // Keep the stored band count and depth: sharp would otherwise convert grey to sRGB and 16 to 8 bits.
  const grey = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0) === 1;
  const space = grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb';
  const { data, info } = await toRaw(pipeline.removeAlpha().toColourspace(space), file, 'class-index mask', wide ? 'ushort' : 'uchar');
  const values = wide ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : data;
  const pixels = info.width * info.height;
  const channels = info.channels;
  if (channels !== 1 && channels !== 3) throw new DecodeError(file, `has ${channels} channels; expected a single-channel class-index mask`);
  const out = new Uint8Array(pixels);
  const ignore = options.ignoreLabel ?? IGNORE_LABEL;
  for (let i = 0; i < pixels; i++) {
    const v = values[i * channels]!;
    if (channels === 3 && (values[i * 3 + 1] !== v || values[i * 3 + 2] !== v)) {
      throw new DecodeError(file, `is a colour-coded mask (pixel ${i % info.width},${Math.floor(i / info.width)} has different R, G, B); expected a single-channel class-index mask`);
    }
    if (v === ignore) {
      out[i] = IGNORE_LABEL;
      continue;
    }
    if ((options.classes !== undefined && v >= options.classes) || v >= IGNORE_LABEL) {
      const limit = options.classes !== undefined ? `${options.classes} classes` : `class ids up to ${IGNORE_LABEL - 1}`;
      throw new DecodeError(file, `pixel ${i % info.width},${Math.floor(i / info.width)} has class ${v}; expected ${limit} or the ignore label ${ignore}`);
    }
    out[i] = v;
  }
  return { width: info.width, height: info.height, channels: 1, data: out };
}

/** Width and height as displayed (EXIF orientation applied), from the header only. */
export async function readImageSize(file: string): Promise<{ width: number; height: number; format: string }> {
  const pipeline = await open(file, 'image');
  try {
    const meta = await pipeline.metadata();
    return { width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height, format: meta.format };
  } catch (error) {
    throw new DecodeError(file, `cannot read the image header: ${(error as Error).message} (expected a JPEG, PNG, TIFF or BMP image)`);
  }
}

/** Nearest-neighbour resize (pixel centres aligned) of an 8-bit plane: mask values and class ids stay exact. */
export function resizeNearest(plane: RawImage, width: number, height: number): RawImage {
  return resizeNearestRaster(plane, width, height);
}

/**
 * A mask (or label map) must have its image's size: otherwise an error naming both files, or,
 * with `resize`, a nearest-neighbour resize to the image's size.
 */
export async function fitToImage(
  plane: RawImage,
  planeFile: string,
  image: { width: number; height: number },
  imageFile: string,
  options: { resize: boolean; what?: string },
): Promise<RawImage> {
  if (plane.width === image.width && plane.height === image.height) return plane;
  if (options.resize) return resizeNearest(plane, image.width, image.height);
  throw new DecodeError(
    planeFile,
    `${options.what ?? 'mask'} is ${plane.width}x${plane.height} but its image ${imageFile} is ${image.width}x${image.height}; to resize masks to their image (nearest neighbour): ${readerOptionHint('resizeMasks')}`,
  );
}

/** Decodes an image and its binary mask together and checks (or fits) the mask's size. */
export async function decodeBinarySample(
  files: Readonly<Record<string, string>>,
  options: { maskThreshold: number; resizeMasks: boolean },
): Promise<{ image: RawImage; mask: RawImage }> {
  const imageFile = files.image!;
  const maskFile = files.mask!;
  const [image, mask] = await Promise.all([decodeImage(imageFile), decodeMask(maskFile, options.maskThreshold)]);
  return { image, mask: await fitToImage(mask, maskFile, image, imageFile, { resize: options.resizeMasks }) };
}

/** Decodes an image and its class-index mask together and checks (or fits) the mask's size. */
export async function decodeLabelSample(
  files: Readonly<Record<string, string>>,
  options: LabelOptions & { resizeMasks: boolean },
): Promise<{ image: RawImage; label: RawImage }> {
  const imageFile = files.image!;
  const labelFile = files.label!;
  const [image, label] = await Promise.all([decodeImage(imageFile), decodeLabel(labelFile, options)]);
  return { image, label: await fitToImage(label, labelFile, image, imageFile, { resize: options.resizeMasks, what: 'class-index mask' }) };
}
