import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/graph/compile.ts';
import type { RunEvent } from '../../../src/graph/events.ts';
import { lineChart, metricTable, runReport } from '../../../src/nodes/report/html-report.ts';
import { toySegmentation } from '../../../pipelines/toy-segmentation.ts';

const events: RunEvent[] = [
  { type: 'started', graph: 'toy-segmentation', stages: [], backend: 'wasm', window: 4 },
  { type: 'metric', node: 'optimizer', name: 'loss', value: 0.9, split: 'train', epoch: 0, step: 0 },
  { type: 'metric', node: 'optimizer', name: 'loss', value: 0.7, split: 'train', epoch: 0, step: 1 },
  { type: 'metric', node: 'optimizer', name: 'loss', value: 0.6, split: 'val', epoch: 0, step: 2 },
  { type: 'metric', node: 'optimizer', name: 'loss', value: 0.4, split: 'val', epoch: 0, step: 2 },
  { type: 'metric', node: 'iou', name: 'iou', value: 0.25, split: 'val', epoch: 0 },
  { type: 'log', node: 'peft', message: 'trainable <params> & more' },
  { type: 'finished', items: 8, seconds: 1.25 },
];

describe('run report', () => {
  it('averages each metric per split and epoch (hand-computed)', () => {
    const { rows, names } = metricTable(events);
    expect(names).toEqual(['iou', 'loss']);
    expect(rows.map((r) => [r.epoch, r.split, Object.fromEntries(r.values)])).toEqual([
      [0, 'train', { loss: 0.8 }],
      [0, 'val', { loss: 0.5, iou: 0.25 }],
    ]);
  });

  it('draws one polyline per non-empty series, scaled into the plot', () => {
    const svg = lineChart([{ name: 'a', colour: '#000', points: [[0, 0], [10, 1]] }, { name: 'b', colour: '#111', points: [] }], 't');
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(svg).toContain('points="40.0,200.0 600.0,40.0"');
    expect(lineChart([], 't')).toBe('');
  });

  it('is a self-contained page with status, curves, table, graph and escaped logs', async () => {
    const html = await runReport(compile(toySegmentation()), events);
    expect(html).toContain('finished: 8 items in 1.3 s · backend wasm');
    expect(html).toContain('<td>1</td><td>val</td><td>0.2500</td><td>0.5000</td>');
    expect(html.match(/<polyline/g)).toHaveLength(2);
    expect(html).toContain('[peft] trainable &#60;params&#62; &#38; more');
    expect(html).toContain('>optimizer</text>');
    expect(html).not.toMatch(/<script|<link/);
    const failed = await runReport(compile(toySegmentation()), [...events.slice(0, -1), { type: 'failed', error: 'boom <x>' }]);
    expect(failed).toContain('FAILED: boom &#60;x&#62;');
  });
});
