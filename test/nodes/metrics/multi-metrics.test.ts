/**
 * Multi-class and multi-task metrics against the numpy reference (AutoGluon's Multiclass_IoU,
 * LibMTL's SegMetric / DepthMetric / NormalMetric, LibMTL's count_improvement), plus
 * MaskFormer semantic inference on a hand-computed case, edge cases and the nodes' events.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { tensorData } from '../../../src/graph/port.ts';
import { deltaM, readBaseline } from '../../../src/nodes/metrics/delta-m.ts';
import { DepthErrors } from '../../../src/nodes/metrics/depth.ts';
import { SegmentationConfusion, SemanticSegMetrics } from '../../../src/nodes/metrics/miou.ts';
import { MultiTaskMetrics } from '../../../src/nodes/metrics/multi-task.ts';
import { NormalErrors } from '../../../src/nodes/metrics/normals.ts';
import { argmaxLabels, maskFormerSemantic } from '../../../src/nodes/metrics/semantic-inference.ts';

const load = <T>(name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/reference/${name}`, import.meta.url), 'utf8')) as T;
const mc = load<{
  classes: number;
  shape: [number, number, number];
  labels: number[];
  pred: number[];
  convLora: { perClass: number[]; miou: number };
  libmtl: { perClass: (number | null)[]; miou: number; pixelAccuracy: number };
}>('multiclass-metrics.json');
const mt = load<{
  shape: [number, number, number];
  depthPred: number[];
  depthGt: number[];
  depth: { absErr: number; relErr: number };
  normalPred: number[];
  normalGt: number[];
  normal: { mean: number; median: number; within11_25: number; within22_5: number; within30: number };
  deltaM: { baseline: Record<string, number>; current: Record<string, number>; deltaM: number };
}>('multitask-metrics.json');

describe('multi-class IoU', () => {
  const perImage = mc.shape[1] * mc.shape[2];
  const accumulate = (convention: 'conv-lora' | 'libmtl') => {
    const m = new SegmentationConfusion(mc.classes, convention);
    for (let b = 0; b < mc.shape[0]; b++) m.add(mc.pred.slice(b * perImage, (b + 1) * perImage), mc.labels.slice(b * perImage, (b + 1) * perImage));
    return m;
  };

  it('conv-lora convention: as AutoGluon’s Multiclass_IoU (ignored pixels’ predictions count, absent classes score 0)', () => {
    const m = accumulate('conv-lora');
    m.perClassIou().forEach((v, k) => expect(v).toBeCloseTo(mc.convLora.perClass[k]!, 12));
    expect(m.miou()).toBeCloseTo(mc.convLora.miou, 12);
  });

  it('libmtl convention: as LibMTL’s confusion matrix, with pixel accuracy', () => {
    const m = accumulate('libmtl');
    m.perClassIou().forEach((v, k) => expect(v).toBeCloseTo(mc.libmtl.perClass[k]!, 12));
    expect(m.miou()).toBeCloseTo(mc.libmtl.miou, 12);
    expect(m.pixelAccuracy()).toBeCloseTo(mc.libmtl.pixelAccuracy, 12);
  });

  it('hand cases: perfect, all ignored, absent classes, a bad prediction id', () => {
    const perfect = new SegmentationConfusion(3, 'libmtl');
    perfect.add([0, 1, 1, 0], [0, 1, 1, 0]);
    expect(perfect.perClassIou()).toEqual([1, 1, null]);
    expect(perfect.miou()).toBe(1);
    const cl = new SegmentationConfusion(3, 'conv-lora');
    cl.add([0, 1, 1, 0], [0, 1, 1, 0]);
    expect(cl.miou()).toBeCloseTo(2 / 3, 12); // class 2 never seen scores 0 and counts
    const ignored = new SegmentationConfusion(2, 'conv-lora');
    ignored.add([1, 1], [-1, -1]);
    expect(ignored.perClassIou()).toEqual([0, 0]);
    expect(ignored.pixelAccuracy()).toBe(0);
    const lm = new SegmentationConfusion(2, 'libmtl');
    lm.add([1, 1], [-1, -1]);
    expect(lm.miou()).toBe(0);
    expect(() => lm.add([2], [0])).toThrow('SegmentationConfusion: predicted class 2 at pixel 0 is outside [0, 2)');
  });

  it('the node emits mIoU, pixel accuracy and per-class IoU at each group end', async () => {
    const events: { type: string; name?: string; value?: number; split?: string }[] = [];
    const impl = SemanticSegMetrics.main.create({ numClasses: mc.classes, convention: 'libmtl', perClass: true, prefix: 'seg/' }, { node: 's', kind: SemanticSegMetrics.kind, seed: 0, emit: (e) => events.push(e) });
    const [n, h, w] = mc.shape;
    const batch = (values: number[]) => tensorData(Int32Array.from(values), [n, h, w, 1]);
    await impl.process({ pred: batch(mc.pred), labels: batch(mc.labels) }, { index: 0, split: 'test', epoch: 1, groupEnd: true });
    expect(events.map((e) => e.name)).toEqual(['seg/miou', 'seg/pixel_accuracy', 'seg/iou/0', 'seg/iou/1', 'seg/iou/2', 'seg/iou/3']);
    expect(events[0]!.value).toBeCloseTo(mc.libmtl.miou, 12);
  });
});

describe('MaskFormer semantic inference', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('sums class probabilities times mask probabilities over tokens, then takes the argmax', () => {
    // 1 image, 2 tokens, 1×2 pixels, 2 classes + no-object.
    const masks = tf.tensor4d([0, 10, -10, 0], [1, 2, 1, 2]); // token 0: σ = [0.5, ~1]; token 1: [~0, 0.5]
    const classes = tf.tensor3d([Math.log(3), 0, 0, 0, Math.log(4), 0], [1, 2, 3]); // softmax: [0.6, 0.2, 0.2], [1/6, 4/6, 1/6]
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    const scores = maskFormerSemantic(masks, classes);
    const expected = [
      0.6 * 0.5 + (1 / 6) * s(-10), 0.2 * 0.5 + (4 / 6) * s(-10), // pixel 0: class 0, class 1
      0.6 * s(10) + (1 / 6) * 0.5, 0.2 * s(10) + (4 / 6) * 0.5, // pixel 1
    ];
    [...scores.dataSync()].forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect([...argmaxLabels(scores).dataSync()]).toEqual([0, 0]);
    expect(argmaxLabels(scores).shape).toEqual([1, 1, 2, 1]);
  });
});

describe('multi-task metrics', () => {
  it('depth Abs/Rel Err over valid pixels, as LibMTL', () => {
    const d = new DepthErrors();
    d.add(mt.depthPred, mt.depthGt);
    expect(d.absErr()).toBeCloseTo(mt.depth.absErr, 12);
    expect(d.relErr()).toBeCloseTo(mt.depth.relErr, 12);
    const empty = new DepthErrors();
    empty.add([1, 2], [0, 0]);
    expect(empty.absErr()).toBeNaN();
    expect(empty.perImage()).toEqual([{ absErr: NaN, relErr: NaN, pixels: 0 }]);
  });

  it('normal angle errors: mean, median (±5e−5°) and within 11.25 / 22.5 / 30°, as LibMTL', () => {
    const n = new NormalErrors();
    n.add(mt.normalPred, mt.normalGt);
    const s = n.summary();
    expect(s.mean).toBeCloseTo(mt.normal.mean, 10);
    expect(Math.abs(s.median - mt.normal.median)).toBeLessThanOrEqual(5e-5);
    expect(s.within11_25).toBe(mt.normal.within11_25);
    expect(s.within22_5).toBe(mt.normal.within22_5);
    expect(s.within30).toBe(mt.normal.within30);
    const perfect = new NormalErrors();
    perfect.add([0, 0, 2, 1, 0, 0], [0, 0, 1, 1, 0, 0]);
    expect(perfect.summary().mean).toBe(0);
    expect(perfect.summary().within11_25).toBe(1);
  });

  it('Δm: LibMTL’s task-averaged form, and the metric-averaged variant', () => {
    expect(deltaM(mt.deltaM.current, mt.deltaM.baseline)).toBeCloseTo(mt.deltaM.deltaM, 12);
    // seg: (+0.04 − 0.0142857)/2; depth: (+0.05 − 0.0625)/2; metric-mean of the four
    const terms = [0.02 / 0.5, -0.01 / 0.7, 0.02 / 0.4, -0.01 / 0.16];
    expect(deltaM(mt.deltaM.current, mt.deltaM.baseline, { form: 'metric-mean' })).toBeCloseTo((100 * terms.reduce((a, b) => a + b)) / 4, 12);
    expect(() => deltaM({ 'seg/miou': 0.5 }, {})).toThrow('deltaM: the baseline has no value for seg/miou');
  });

  it('the node emits every task’s metrics and Δm against a named baseline run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samflow-baseline-'));
    const lines = Object.entries(mt.deltaM.baseline).map(([name, value]) => JSON.stringify({ type: 'metric', node: 'm', name, value, split: 'test', epoch: 9 }));
    writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify({ type: 'started' })}\n${lines.join('\n')}\n`);
    expect(readBaseline(dir).metrics).toEqual(mt.deltaM.baseline);
    expect(() => readBaseline(join(dir, 'nope'))).toThrow(/no such file or folder/);

    const events: { type: string; name?: string; value?: number }[] = [];
    const impl = MultiTaskMetrics.main.create(
      { numClasses: mc.classes, convention: 'libmtl', baseline: dir, baselineSplit: 'test', deltaForm: 'task-mean' },
      { node: 'mt', kind: MultiTaskMetrics.kind, seed: 0, emit: (e) => events.push(e) },
    );
    const [n, h, w] = mc.shape;
    const [dn, dh, dw] = mt.shape;
    await impl.process(
      {
        segPred: tensorData(Int32Array.from(mc.pred), [n, h, w, 1]),
        segLabels: tensorData(Int32Array.from(mc.labels), [n, h, w, 1]),
        depthPred: tensorData(Float32Array.from(mt.depthPred), [dn, dh, dw, 1]),
        depthGt: tensorData(Float32Array.from(mt.depthGt), [dn, dh, dw, 1]),
      },
      { index: 0, split: 'test', epoch: 0, groupEnd: true },
    );
    const byName = Object.fromEntries(events.map((e) => [e.name, e.value]));
    expect(Object.keys(byName)).toEqual(['seg/miou', 'seg/pixel_accuracy', 'depth/abs_err', 'depth/rel_err', 'delta_m']);
    expect(byName['seg/miou']).toBeCloseTo(mc.libmtl.miou, 6);
    expect(byName['depth/abs_err']).toBeCloseTo(mt.depth.absErr, 6);
    const current = { 'seg/miou': byName['seg/miou']!, 'seg/pixel_accuracy': byName['seg/pixel_accuracy']!, 'depth/abs_err': byName['depth/abs_err']!, 'depth/rel_err': byName['depth/rel_err']! };
    expect(byName.delta_m).toBeCloseTo(deltaM(current, mt.deltaM.baseline), 12);
  });
});
