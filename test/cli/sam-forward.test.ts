import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { captureCli, samflow } from './capture.ts';
import { readNpy, writeNpy } from '../../src/nodes/data/npy.ts';

const F = new URL('../fixtures/sam/', import.meta.url).pathname;
const output = captureCli();
const load = (path: string) => readNpy(readFileSync(path), path);
function maxDiff(out: string, ref: string): number {
  const a = load(out);
  const b = load(ref);
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}
function expectCase(dir: string, name: string) {
  for (const file of ['image_embeddings', 'low_res_logits', 'iou_predictions']) {
    expect(maxDiff(join(dir, `${file}.npy`), `${F}case_${name}_${file}.npy`), file).toBeLessThan(1e-4);
  }
}

describe('samflow sam-forward', () => {
  it('writes the official outputs for point prompts, matching PyTorch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    const code = await samflow('sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny.pth`, '--image', `${F}image.npy`, '--out-dir', dir, '--point', '10,20,1', '--point', '30,41,0');
    expect(output.err).toBe('');
    expect(code).toBe(0);
    expectCase(dir, 'points');
  });

  it('takes a box, a safetensors checkpoint and a PNG image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    const img = load(`${F}image.npy`);
    const png = join(dir, 'image.png');
    await sharp(Buffer.from(img.data as Uint8Array), { raw: { width: 48, height: 64, channels: 3 } }).png().toFile(png);
    const code = await samflow('sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny.safetensors`, '--image', png, '--out-dir', dir, '--box', '5,6,40,50');
    expect(code).toBe(0);
    expectCase(dir, 'box');
  });

  it('without prompts uses the no-mask embedding and no sparse tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    expect(await samflow('sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny.pth`, '--image', `${F}image.npy`, '--out-dir', dir)).toBe(0);
    expectCase(dir, 'none');
  });

  it('explains bad input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    const base = ['sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny.pth`, '--out-dir', dir];
    expect(await samflow(...base, '--image', `${F}image.npy`, '--point', '10,20')).toBe(1);
    expect(output.err).toContain("--point expects 3 comma-separated numbers, got '10,20'");
    expect(await samflow(...base, '--image', `${F}image.npy`, '--point', '10,20,2')).toBe(1);
    expect(output.err).toContain('--point label must be 1 (foreground) or 0 (background), got 2');
    const small = join(dir, 'small.npy');
    writeFileSync(small, writeNpy(new Uint8Array(32 * 20 * 3), [32, 20, 3]));
    expect(await samflow(...base, '--image', small)).toBe(1);
    expect(output.err).toContain(`${small}: an .npy image must already have its longest side at image_size 64, got [32, 20, 3]`);
    expect(await samflow('sam-forward', '--arch', 'vit_q', '--checkpoint', `${F}tiny.pth`, '--image', small, '--out-dir', dir)).toBe(1);
    expect(output.err).toContain("unknown SAM preset 'vit_q'");
  });
});
