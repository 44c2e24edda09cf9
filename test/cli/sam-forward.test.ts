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
    expect(output.err).toContain("--point '10,20,2': the label must be 1 (foreground) or 0 (background), got 2");
    const small = join(dir, 'small.npy');
    writeFileSync(small, writeNpy(new Uint8Array(32 * 20 * 3), [32, 20, 3]));
    expect(await samflow(...base, '--image', small)).toBe(1);
    expect(output.err).toContain(`${small}: an .npy image must already have its longest side at image_size 64, got [32, 20, 3]`);
    expect(await samflow('sam-forward', '--arch', 'vit_q', '--checkpoint', `${F}tiny.pth`, '--image', small, '--out-dir', dir)).toBe(1);
    expect(output.err).toContain("unknown SAM preset 'vit_q'");
  });

  it('checks points and boxes against the image (48x64), naming the flag and value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    const base = ['sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny.pth`, '--out-dir', dir, '--image', `${F}image.npy`];
    const cases: [string[], string][] = [
      [['--point', '49,20,1'], "--point '49,20,1': (49, 20) is outside the image; expected 0 <= x <= 48 and 0 <= y <= 64 (image pixels of the 48x64 image)"],
      [['--point', '10,-1,0'], "--point '10,-1,0': (10, -1) is outside the image; expected 0 <= x <= 48 and 0 <= y <= 64 (image pixels of the 48x64 image)"],
      [['--box', '40,6,5,50'], "--box '40,6,5,50': expected x0 < x1 and y0 < y1 (top-left corner first), got x0 40, x1 5, y0 6, y1 50"],
      [['--box', '5,50,40,50'], "--box '5,50,40,50': expected x0 < x1 and y0 < y1 (top-left corner first), got x0 5, x1 40, y0 50, y1 50"],
      [['--box', '5,6,40,65'], "--box '5,6,40,65': reaches outside the image; expected 0 <= x <= 48 and 0 <= y <= 64 (image pixels of the 48x64 image) for both corners"],
    ];
    for (const [args, message] of cases) {
      output.err = '';
      expect(await samflow(...base, ...args), args.join(' ')).toBe(1);
      expect(output.err).toBe(`samflow: ${message}\n`);
    }
    // The far edges are inside: a box over the whole image is fine.
    expect(await samflow(...base, '--box', '0,0,48,64', '--point', '48,64,1')).toBe(0);
  });

  it('a checkpoint of another architecture fails naming --allow-partial, which then lists the tensors kept random', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    const base = ['sam-forward', '--arch', `${F}arch.json`, '--checkpoint', `${F}tiny_partial.pth`, '--out-dir', dir, '--image', `${F}image.npy`];
    expect(await samflow(...base)).toBe(1);
    expect(output.err).toMatch(/\n {2}Check --arch against the checkpoint, or pass --allow-partial to load what matches\.\n$/);
    expect(await samflow(...base, '--allow-partial')).toBe(0);
    expect(output.out).toMatch(
      /171 tensors from .*tiny_partial\.pth \(pytorch, official names\) on \w+; kept random \(3\): image_encoder\.blocks\.0\.norm1\.bias, prompt_encoder\.no_mask_embed\.weight, mask_decoder\.iou_token\.weight\n$/,
    );
  });

  it('says "no such file" for a checkpoint that is not there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samfwd-'));
    expect(await samflow('sam-forward', '--arch', `${F}arch.json`, '--checkpoint', join(dir, 'sam.pth'), '--out-dir', dir, '--image', `${F}image.npy`)).toBe(1);
    expect(output.err).toBe(`samflow: ${join(dir, 'sam.pth')}: no such file (expected a PyTorch checkpoint from torch.save)\n`);
  });
});
