/**
 * The comparison's table and page from rows made by hand: columns and values as given, the best
 * of each column marked (lowest for MAE), a failed run shown as failed, links relative to the
 * comparison folder.
 */
import { describe, expect, it } from 'vitest';
import { comparisonHtml, comparisonTable, type ComparedRow, type ComparisonContext } from '../../../src/nodes/report/comparison-report.ts';

const METRICS = ['iou', 'sm', 'mae'];
const rows: ComparedRow[] = [
  { name: 'base (no fine-tuning)', method: 'none', trainable: 0, trainSeconds: 0, scores: { test: { iou: 0.1, sm: 0.5, mae: 0.2 } } },
  { name: 'conv-lora', method: 'conv-lora', trainable: 43744, trainSeconds: 33.4, scores: { test: { iou: 0.75, sm: 0.9, mae: 0.03 } }, run: '/c/conv-lora' },
  { name: 'lora', method: 'lora', trainable: 41584, trainSeconds: 22.6, scores: { test: { iou: 0.8, sm: 0.88, mae: 0.02 } }, run: '/c/lora' },
  { name: 'vpt', method: 'vpt', scores: {}, run: '/c/vpt', error: 'vpt: out of memory' },
];
const context: ComparisonContext = { out: '/c', data: '/c/data', splits: ['test'], base: { path: '/b/sam.safetensors', arch: '/b/arch.json' }, options: { epochs: 8 }, metrics: METRICS };

describe('comparison report', () => {
  it('prints a table per split with the given values, failed runs said so', () => {
    const lines = comparisonTable(rows, context).split('\n');
    expect(lines[1]!.split(/\s{2,}/)).toEqual(['method', 'trainable params', 'train time', 'IoU', 'Sα', 'MAE']);
    expect(lines[3]!.split(/\s{2,}/)).toEqual(['base (no fine-tuning)', '0', '0', '0.1000', '0.5000', '0.2000']);
    expect(lines[4]!.split(/\s{2,}/)).toEqual(['conv-lora', '43,744', '33 s', '0.7500', '0.9000', '0.0300']);
    expect(lines[6]!.split(/\s{2,}/)).toEqual(['vpt', '-', '-', 'failed', 'failed', 'failed']);
    expect(lines.at(-1)).toBe('vpt failed: vpt: out of memory');
    // Columns line up: every row is as wide as the header.
    expect(new Set(lines.slice(1, 7).map((l) => [...l].length)).size).toBe(1);
  });

  it('marks the best of each column (the lowest MAE) and links each run report relative to the page', async () => {
    const html = await comparisonHtml(rows, context, new Map());
    const tops = [...html.matchAll(/<td class="top">([^<]+)<\/td>/g)].map((m) => m[1]);
    // iou: lora 0.8; sm: conv-lora 0.9; mae: lora 0.02 (in table order).
    expect(tops).toEqual(['0.9000', '0.8000', '0.0200']);
    expect(html).toContain('<a href="conv-lora/report.html">run report</a>');
    expect(html).toContain('vpt: out of memory');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(2);
    expect(html).toContain('no pictures were kept');
  });
});
