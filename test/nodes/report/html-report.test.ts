import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/graph/compile.ts';
import type { RunEvent } from '../../../src/graph/events.ts';
import { barChart, lineChart } from '../../../src/nodes/report/charts.ts';
import { runReport, shortLayerNames } from '../../../src/nodes/report/html-report.ts';
import { bestEpoch, epochCurve, metricTable, stepCurve, throughput, type LoggedEvent } from '../../../src/nodes/report/report-data.ts';
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

  it('orders per-class metrics by class number (iou/2 before iou/10)', () => {
    const perClass = ['iou/10', 'iou/2', 'iou/1', 'miou'].map((name): RunEvent => ({ type: 'metric', node: 'miou', name, value: 0.5, split: 'val', epoch: 0 }));
    expect(metricTable(perClass).names).toEqual(['iou/1', 'iou/2', 'iou/10', 'miou']);
  });

  it('places per-step values inside their epoch and epoch means at its end; the best is the last best checkpoint', () => {
    expect(stepCurve(events, 'loss')).toEqual([[0.5, 0.9], [1, 0.7]]);
    expect(epochCurve(events, 'loss', 'val')).toEqual([[1, 0.5]]);
    expect(bestEpoch([...events, { type: 'checkpoint', path: 'a', epoch: 0, step: 2, tags: ['last', 'best'] }, { type: 'checkpoint', path: 'b', epoch: 1, step: 4, tags: ['last'] }])).toBe(0);
  });

  it('images per second per split from the timestamps, without each attempt’s first batch', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const logged: LoggedEvent[] = [
      { type: 'started', graph: 'g', stages: [], window: 4, time: at(0) },
      { type: 'progress', items: 2, split: 'train', epoch: 0, time: at(5) }, // start-up: left out
      { type: 'progress', items: 4, split: 'train', epoch: 0, time: at(6) },
      { type: 'progress', items: 6, split: 'train', epoch: 0, time: at(8) },
      { type: 'progress', items: 10, split: 'val', epoch: 0, time: at(9) },
      { type: 'started', graph: 'g', stages: [], window: 4, time: at(20) },
      { type: 'progress', items: 12, split: 'val', epoch: 0, time: at(30) }, // a resumed attempt's first batch
      { type: 'progress', items: 14, split: 'val', epoch: 0, time: at(31) },
    ];
    expect(throughput(logged)).toEqual([{ split: 'train', items: 4, seconds: 3 }, { split: 'val', items: 6, seconds: 2 }]);
  });

  it('draws charts as SVG with ECharts, and nothing for no data', () => {
    const svg = lineChart({ title: 'loss <a>', series: [{ name: 'a', points: [[0, 0], [2, 1]] }, { name: 'b', points: [] }], mark: { x: 1, label: 'best' } });
    expect(svg).toMatch(/^<svg class="chart" role="img" aria-label="loss &#60;a&#62;" width="560" height="280"/);
    expect(svg).toContain('>best</text>');
    expect(lineChart({ title: 't', series: [{ name: 'a', points: [] }] })).toBe('');
    expect(barChart({ title: 'u', categories: ['1', '2'], series: [{ name: 'val', values: [3, 1] }] }).match(/<path d="M/g)!.length).toBeGreaterThan(2);
    expect(barChart({ title: 'u', categories: [], series: [] })).toBe('');
  });

  it('shortens layer names to what tells them apart', () => {
    expect(shortLayerNames(['enc.blocks.0.attn.qkv', 'enc.blocks.10.attn.qkv'])).toEqual({ names: ['0', '10'], pattern: 'enc.blocks.<n>.attn.qkv' });
    expect(shortLayerNames(['only.one'])).toEqual({ names: ['only.one'], pattern: '' });
  });

  it('is a self-contained page with status, curves, table, graph and escaped logs', async () => {
    const html = await runReport(compile(toySegmentation()), events);
    expect(html).toContain('finished: 8 items in 1.3 s · backend wasm');
    expect(html).toContain('<td>1</td><td>val</td><td>0.2500</td><td>0.5000</td>');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(2); // loss and metrics; no lr was reported
    expect(html).toContain('no gallery: add a report/gallery node');
    expect(html).toContain('[peft] trainable &#60;params&#62; &#38; more');
    expect(html).toContain('>optimizer</text>');
    expect(html).not.toMatch(/<script|<link/);
    const failed = await runReport(compile(toySegmentation()), [...events.slice(0, -1), { type: 'failed', error: 'boom <x>' }]);
    expect(failed).toContain('FAILED: boom &#60;x&#62;');
  });
});
