import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { captureCli, samflow } from './capture.ts';

interface Case {
  name: string;
  width: number;
  height: number;
  predKind: string;
  pred: number[];
  gt: number[];
  expected: Record<string, number>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/reference/binary-metrics.json', import.meta.url), 'utf8')) as { cases: Case[] };
const u8Cases = fixture.cases.filter((c) => c.predKind === 'uint8').slice(0, 4);

const output = captureCli();

const png = (file: string, values: number[], width: number, height: number) =>
  sharp(Uint8Array.from(values), { raw: { width, height, channels: 1 } }).png().toFile(file);

async function folders(cases: Case[], gtExt = '.png') {
  const dir = mkdtempSync(join(tmpdir(), 'samflow-metrics-'));
  mkdirSync(join(dir, 'pred'));
  mkdirSync(join(dir, 'gt'));
  for (const c of cases) {
    await png(join(dir, 'pred', `${c.name}.png`), c.pred, c.width, c.height);
    await png(join(dir, 'gt', `${c.name}${gtExt}`), c.gt, c.width, c.height);
  }
  return { pred: join(dir, 'pred'), gt: join(dir, 'gt') };
}

describe('samflow metrics', () => {
  it('scores PNG folders matched by stem, per image and on average, as the numpy reference does', async () => {
    const dirs = await folders(u8Cases);
    expect(await samflow('metrics', '--pred', dirs.pred, '--gt', dirs.gt, '--per-image', '--json')).toBe(0);
    const report = JSON.parse(output.out) as { images: number; metrics: Record<string, number>; perImage: ({ image: string } & Record<string, number>)[] };
    expect(report.images).toBe(u8Cases.length);
    const sorted = [...u8Cases].sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(report.perImage.map((r) => r.image)).toEqual(sorted.map((c) => c.name));
    for (const [i, c] of sorted.entries()) {
      for (const [name, value] of Object.entries(c.expected)) expect(report.perImage[i]![name], `${c.name} ${name}`).toBeCloseTo(value, 10);
    }
    for (const name of Object.keys(u8Cases[0]!.expected)) {
      expect(report.metrics[name]).toBeCloseTo(u8Cases.reduce((s, c) => s + c.expected[name]!, 0) / u8Cases.length, 10);
    }
  });

  it('prints a table for people, with only the metrics asked for', async () => {
    const dirs = await folders(u8Cases.slice(0, 2));
    expect(await samflow('metrics', '--pred', dirs.pred, '--gt', dirs.gt, '--metrics', 'sm,mae', '--per-image')).toBe(0);
    const lines = output.out.trim().split('\n');
    expect(lines[0]).toMatch(/^image\s+sm\s+mae$/);
    expect(output.out).toMatch(/2 images, .* against .* \(mean over images\):\n {2}sm {3}\d\.\d{4}\n {2}mae {2}\d\.\d{4}\n$/);
  });

  it('refuses a prediction of another size, listing each; --resize resizes it to its ground truth’s size and says how many', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samflow-metrics-'));
    mkdirSync(join(dir, 'p'));
    mkdirSync(join(dir, 'g'));
    // 4x4 ground truth, left half foreground; an 8x8 prediction, left half 255; a 4x2 one (another aspect ratio).
    const gt = Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 255 : 0));
    const pred = Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 255 : 0));
    await png(join(dir, 'g', 'x.png'), gt, 4, 4);
    await png(join(dir, 'p', 'x.png'), pred, 8, 8);
    await png(join(dir, 'g', 'y.png'), gt, 4, 4);
    await png(join(dir, 'p', 'y.png'), [255, 255, 0, 0, 255, 255, 0, 0], 4, 2);
    await png(join(dir, 'g', 'z.png'), gt, 4, 4);
    await png(join(dir, 'p', 'z.png'), gt, 4, 4);
    const args = ['metrics', '--pred', join(dir, 'p'), '--gt', join(dir, 'g'), '--metrics', 'iou,mae'];
    expect(await samflow(...args)).toBe(1);
    expect(output.err).toBe(
      `samflow: 2 prediction(s) in ${join(dir, 'p')} differ in size from their ground truth in ${join(dir, 'g')}: ` +
        "x (prediction 8x8, ground truth 4x4), y (prediction 4x2, ground truth 4x4); pass --resize to resize each prediction to its ground truth's size (bilinear)\n",
    );
    expect(output.out).toBe('');
    expect(await samflow(...args, '--resize')).toBe(0);
    expect(output.out).toMatch(/^resized 2 prediction\(s\) to their ground truth's size \(bilinear\), 1 of them to another aspect ratio\n3 images, /);
    output.out = '';
    expect(await samflow(...args, '--resize', '--json')).toBe(0);
    const report = JSON.parse(output.out) as { images: number; resized: { count: number; otherAspect: number }; metrics: Record<string, number> };
    expect(report.resized).toEqual({ count: 2, otherAspect: 1 });
    expect(report.images).toBe(3);
  });

  it('scores an 8x8 prediction resized to its 4x4 ground truth as the same mask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samflow-metrics-'));
    mkdirSync(join(dir, 'p'));
    mkdirSync(join(dir, 'g'));
    const gt = Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 255 : 0));
    const pred = Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 255 : 0));
    await png(join(dir, 'g', 'x.png'), gt, 4, 4);
    await png(join(dir, 'p', 'x.png'), pred, 8, 8);
    expect(await samflow('metrics', '--pred', join(dir, 'p'), '--gt', join(dir, 'g'), '--metrics', 'iou,mae', '--resize', '--json')).toBe(0);
    const report = JSON.parse(output.out) as { metrics: Record<string, number> };
    expect(report.metrics.iou).toBe(1);
    expect(report.metrics.mae).toBeLessThan(0.1);
  });

  it('lists every file without a partner, in both folders', async () => {
    const dirs = await folders(u8Cases.slice(0, 2));
    await png(join(dirs.pred, 'only-pred.png'), [0, 0, 0, 0], 2, 2);
    await png(join(dirs.gt, 'only-gt.jpg'), [0, 0, 0, 0], 2, 2);
    expect(await samflow('metrics', '--pred', dirs.pred, '--gt', dirs.gt)).toBe(1);
    expect(output.err).toContain('unmatched files (pairs match by file stem): 1 prediction(s) in');
    expect(output.err).toContain('have no ground truth in');
    expect(output.err).toContain(': only-pred.png; 1 ground truth(s) in');
    expect(output.err).toContain('have no prediction in');
    expect(output.err).toMatch(/only-gt\.jpg\n$/);
  });

  it('names an unknown metric and a missing folder', async () => {
    const dirs = await folders(u8Cases.slice(0, 1));
    expect(await samflow('metrics', '--pred', dirs.pred, '--gt', dirs.gt, '--metrics', 'iou,fm')).toBe(1);
    expect(output.err).toBe("samflow: unknown metric 'fm'; choose from iou, dice, sm, em, wfm, mae, ber ('fm' in the Conv-LoRA code is the weighted F-measure, here 'wfm')\n");
    output.err = '';
    expect(await samflow('metrics', '--pred', '/nonexistent/preds', '--gt', dirs.gt)).toBe(1);
    expect(output.err).toBe('samflow: --pred /nonexistent/preds: no such folder\n');
  });
});
