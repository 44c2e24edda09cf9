/**
 * Windows BMP, read and written here because sharp's libvips build has no BMP loader. Reads the
 * uncompressed kinds data sets use: 1/4/8-bit palette, 24-bit, and 32-bit (BI_RGB or
 * BI_BITFIELDS), bottom-up or top-down. Writes 8-bit grey (one channel) or 24-bit RGB.
 *
 * ```ts
 * const image = decodeBmp(await readFile('a.bmp'), 'a.bmp'); // {width, height, channels: 3, data}
 * await writeFile('b.bmp', encodeBmp(image));
 * ```
 */
import type { RawImage } from '../ports.ts';

const BI_RGB = 0;
const BI_BITFIELDS = 3;

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Decodes a BMP into 8-bit RGB (channels 3); `file` names the source in every error. */
export function decodeBmp(bytes: Uint8Array, file: string): RawImage {
  if (!isBmp(bytes)) throw new Error(`${file}: not a BMP file (expected the 'BM' signature)`);
  if (bytes.length < 54) throw new Error(`${file}: truncated BMP: ${bytes.length} bytes is shorter than its headers`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) throw new Error(`${file}: BMP header of ${headerSize} bytes (OS/2 bitmaps) is not supported`);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height === 0) throw new Error(`${file}: BMP has an empty size ${width}x${height}`);
  if (compression !== BI_RGB && !(compression === BI_BITFIELDS && bpp === 32)) {
    throw new Error(`${file}: compressed BMP (compression ${compression}, ${bpp}-bit) is not supported; expected uncompressed`);
  }
  if (![1, 4, 8, 24, 32].includes(bpp)) throw new Error(`${file}: ${bpp}-bit BMP is not supported`);
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    throw new Error(`${file}: truncated BMP: ${width}x${height} ${bpp}-bit needs ${dataOffset + stride * height} bytes, the file has ${bytes.length}`);
  }
  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const colours = view.getUint32(46, true) || 1 << bpp;
    const start = 14 + headerSize;
    palette = new Uint8Array(colours * 3);
    for (let i = 0; i < colours; i++) {
      // Palette entries are B, G, R, reserved.
      palette[i * 3] = bytes[start + i * 4 + 2]!;
      palette[i * 3 + 1] = bytes[start + i * 4 + 1]!;
      palette[i * 3 + 2] = bytes[start + i * 4]!;
    }
  }
  // 32-bit BI_BITFIELDS: read the channel masks (in the header from offset 54 on).
  let masks = [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === BI_BITFIELDS) masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  const shifts = masks.map((m) => (m === 0 ? 0 : Math.clz32(m & -m) ^ 31));
  const scales = masks.map((m, c) => (m === 0 ? 0 : 255 / ((m >>> shifts[c]!) >>> 0)));

  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const out = (y * width + x) * 3;
      if (palette) {
        const bit = x * bpp;
        const byte = bytes[row + (bit >> 3)]!;
        const index = bpp === 8 ? byte : (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        if (index * 3 + 2 >= palette.length) throw new Error(`${file}: pixel (${x}, ${y}) uses palette entry ${index}, past the ${palette.length / 3} colours`);
        data[out] = palette[index * 3]!;
        data[out + 1] = palette[index * 3 + 1]!;
        data[out + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24) {
        data[out] = bytes[row + x * 3 + 2]!;
        data[out + 1] = bytes[row + x * 3 + 1]!;
        data[out + 2] = bytes[row + x * 3]!;
      } else {
        const pixel = view.getUint32(row + x * 4, true);
        for (let c = 0; c < 3; c++) data[out + c] = Math.round((((pixel & masks[c]!) >>> 0) >>> shifts[c]!) * scales[c]!);
      }
    }
  }
  return { width, height, channels: 3, data };
}

/** Encodes 8-bit grey (channels 1, with a grey palette) or RGB (channels 3) as an uncompressed bottom-up BMP. */
export function encodeBmp(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  if (channels !== 1 && channels !== 3) throw new Error(`encodeBmp: expected 1 or 3 channels, got ${channels}`);
  const bpp = channels === 1 ? 8 : 24;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  const paletteBytes = channels === 1 ? 256 * 4 : 0;
  const dataOffset = 54 + paletteBytes;
  const out = new Uint8Array(dataOffset + stride * height);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, dataOffset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bpp, true);
  view.setUint32(30, BI_RGB, true);
  view.setUint32(34, stride * height, true);
  view.setUint32(46, channels === 1 ? 256 : 0, true);
  for (let i = 0; i < paletteBytes / 4; i++) out.set([i, i, i, 0], 54 + i * 4);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * channels;
      if (channels === 1) out[row + x] = data[at]!;
      else out.set([data[at + 2]!, data[at + 1]!, data[at]!], row + x * 3);
    }
  }
  return out;
}
