import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeBmp, encodeBmp } from '../../../src/nodes/data/bmp.ts';
import { decodeBinarySample, decodeGrey, decodeImage, decodeLabel, decodeMask, fitToImage, readImageSize } from '../../../src/nodes/data/decode.ts';
import { labelSample, rectSample, tempDir, writeRaster } from '../../fixtures/datasets.ts';

const count = (data: Uint8Array, value: number) => data.reduce((n, v) => n + (v === value ? 1 : 0), 0);

describe('decode', () => {
  it('decodes JPEG, PNG, TIFF and BMP images to 8-bit RGB, grey ones expanded to three channels', async () => {
    const dir = tempDir();
    const { image, mask } = rectSample(24, 16, 2);
    for (const ext of ['.jpg', '.png', '.tif', '.bmp']) {
      await writeRaster(join(dir, `a${ext}`), image);
      const out = await decodeImage(join(dir, `a${ext}`));
      expect([out.width, out.height, out.channels], ext).toEqual([24, 16, 3]);
      if (ext !== '.jpg') expect(Buffer.from(out.data).equals(Buffer.from(image.data)), ext).toBe(true);
    }
    await writeRaster(join(dir, 'grey.png'), mask);
    const grey = await decodeImage(join(dir, 'grey.png'));
    expect(grey.channels).toBe(3);
    expect(grey.data.length).toBe(24 * 16 * 3);
  });

  it('binarises JPEG masks with > 127 despite compression noise', async () => {
    const dir = tempDir();
    const { mask } = rectSample(40, 30, 1);
    await writeRaster(join(dir, 'm.jpg'), mask, { quality: 60 });
    const raw = await decodeGrey(join(dir, 'm.jpg'));
    expect(raw.data.some((v) => v !== 0 && v !== 255)).toBe(true); // the noise is real
    const binary = await decodeMask(join(dir, 'm.jpg'));
    expect(new Set(binary.data)).toEqual(new Set([0, 1]));
    const differ = binary.data.filter((v, i) => v !== (mask.data[i]! > 127 ? 1 : 0)).length;
    expect(differ).toBe(0);
  });

  it('honours EXIF orientation in image size and pixels', async () => {
    const dir = tempDir();
    const { image } = rectSample(24, 16, 0);
    // Orientation 6: the stored 24x16 pixels are shown rotated 90 degrees clockwise (16x24).
    await sharp(image.data, { raw: { width: 24, height: 16, channels: 3 } }).png().withMetadata({ orientation: 6 }).toFile(join(dir, 'rot.png'));
    expect(await readImageSize(join(dir, 'rot.png'))).toMatchObject({ width: 16, height: 24 });
    const out = await decodeImage(join(dir, 'rot.png'));
    expect([out.width, out.height]).toEqual([16, 24]);
    // Stored pixel (x, y) appears at (H - 1 - y, x) after a clockwise quarter turn.
    for (const [x, y] of [[0, 0], [5, 3], [23, 15]] as const) {
      const stored = image.data.subarray((y * 24 + x) * 3, (y * 24 + x) * 3 + 3);
      const shown = out.data.subarray((x * 16 + (15 - y)) * 3, (x * 16 + (15 - y)) * 3 + 3);
      expect([...shown]).toEqual([...stored]);
    }
  });

  it('names the file of a truncated, corrupt or missing image', async () => {
    const dir = tempDir();
    await writeRaster(join(dir, 'ok.jpg'), rectSample(64, 48, 0).image);
    const bytes = readFileSync(join(dir, 'ok.jpg'));
    writeFileSync(join(dir, 'cut.jpg'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    writeFileSync(join(dir, 'junk.png'), Buffer.from('this is not an image at all'));
    await writeRaster(join(dir, 'ok.png'), rectSample(64, 48, 0).image);
    const png = readFileSync(join(dir, 'ok.png'));
    writeFileSync(join(dir, 'cut.png'), png.subarray(0, Math.floor(png.length * 0.7)));
    await expect(decodeImage(join(dir, 'cut.jpg'))).rejects.toThrow(`${join(dir, 'cut.jpg')}: cannot decode the image`);
    await expect(decodeImage(join(dir, 'cut.png'))).rejects.toThrow(`${join(dir, 'cut.png')}: cannot decode the image`);
    await expect(decodeImage(join(dir, 'junk.png'))).rejects.toThrow(`${join(dir, 'junk.png')}: cannot decode the image`);
    await expect(decodeMask(join(dir, 'nope.png'))).rejects.toThrow(`${join(dir, 'nope.png')}: no such file (expected the mask)`);
  });

  it('reads BMP: 24-bit and 8-bit grey, bottom-up; truncated BMP is an error naming the file', () => {
    const { image, mask } = rectSample(7, 5, 1);
    expect(Buffer.from(decodeBmp(encodeBmp(image), 'a.bmp').data).equals(Buffer.from(image.data))).toBe(true);
    const grey = decodeBmp(encodeBmp(mask), 'm.bmp');
    expect([...grey.data.filter((_, i) => i % 3 === 0)]).toEqual([...mask.data]);
    expect(() => decodeBmp(encodeBmp(image).subarray(0, 70), 'cut.bmp')).toThrow('cut.bmp: truncated BMP');
  });

  it('decodes class-index masks exactly, mapping the ignore value to 255; refuses JPEG, palette and colour masks', async () => {
    const dir = tempDir();
    const { label } = labelSample(20, 16, 0, 3, 11);
    await writeRaster(join(dir, 'l.png'), label);
    const out = await decodeLabel(join(dir, 'l.png'), { ignoreLabel: 11 });
    expect(count(out.data, 255)).toBe(20);
    expect(count(out.data, 3)).toBe(count(label.data, 3));
    expect(new Set(out.data)).toEqual(new Set([0, 3, 255]));
    await expect(decodeLabel(join(dir, 'l.png'), { ignoreLabel: 11, classes: 3 })).rejects.toThrow(`${join(dir, 'l.png')}: pixel`);
    await writeRaster(join(dir, 'l.jpg'), label);
    await expect(decodeLabel(join(dir, 'l.jpg'))).rejects.toThrow('class-index masks must be lossless');
    await sharp(Buffer.from(rectSample(8, 8, 0).image.data), { raw: { width: 8, height: 8, channels: 3 } }).png({ palette: true }).toFile(join(dir, 'p.png'));
    await expect(decodeLabel(join(dir, 'p.png'))).rejects.toThrow('is a palette PNG');
    await writeRaster(join(dir, 'c.png'), rectSample(8, 8, 0).image);
    await expect(decodeLabel(join(dir, 'c.png'))).rejects.toThrow('is a colour-coded mask');
    const wide = new Uint16Array(16).map((_, i) => i % 4);
    await sharp(wide, { raw: { width: 4, height: 4, channels: 1 } }).toColourspace('grey16').png().toFile(join(dir, 'w.png'));
    expect([...(await decodeLabel(join(dir, 'w.png'))).data]).toEqual([...wide]);
  });

  it('a mask whose size differs from its image is an error naming both files, or is resized nearest on request', async () => {
    const dir = tempDir();
    await writeRaster(join(dir, 'i.png'), rectSample(24, 16, 0).image);
    await writeRaster(join(dir, 'm.png'), rectSample(12, 8, 0).mask);
    const files = { image: join(dir, 'i.png'), mask: join(dir, 'm.png') };
    await expect(decodeBinarySample(files, { maskThreshold: 127, resizeMasks: false })).rejects.toThrow(
      `${files.mask}: mask is 12x8 but its image ${files.image} is 24x16; to resize masks to their image (nearest neighbour): --set resizeMasks=true on samflow train/run/eval (the reader param 'resizeMasks' in a graph of your own)`,
    );
    const fitted = await decodeBinarySample(files, { maskThreshold: 127, resizeMasks: true });
    expect([fitted.mask.width, fitted.mask.height]).toEqual([24, 16]);
    expect(new Set(fitted.mask.data)).toEqual(new Set([0, 1]));
    const same = await fitToImage(fitted.mask, 'm', fitted.image, 'i', { resize: false });
    expect(same).toBe(fitted.mask);
  });
});
