import { describe, expect, it } from 'vitest';
import { tensorData } from '../../../src/graph/port.ts';
import { BinaryIou, binaryIou } from '../../../src/nodes/metrics/binary-iou.ts';

const batch = (rows: number[][]) => tensorData(new Float32Array(rows.flat()), [rows.length, 1, rows[0]!.length, 1]);

describe('binary IoU', () => {
  it('scores hand-computed cases per image', () => {
    const probs = batch([
      [0.9, 0.8, 0.1, 0.2], // predicts {0, 1}
      [0.9, 0.9, 0.9, 0.9], // predicts all
      [0.1, 0.1, 0.1, 0.1], // predicts nothing
      [0.5, 0.51, 0.1, 0.1], // 0.5 is not above the threshold
    ]);
    const masks = batch([
      [1, 0, 1, 0], // inter 1, union 3
      [1, 1, 1, 1], // perfect
      [0, 0, 0, 0], // both empty: 0, as torchmetrics' binary Jaccard
      [0, 1, 0, 0], // perfect
    ]);
    expect(binaryIou(probs, masks)).toEqual([1 / 3, 1, 0, 1]);
  });

  it('refuses a buffer that does not match its shape (e.g. transferred away)', () => {
    const probs = batch([[1, 1]]);
    const masks = { dtype: 'float32' as const, shape: [1, 1, 2, 1], data: new Float32Array(0) };
    expect(() => binaryIou(probs, masks)).toThrow('masks: shape [1, 1, 2, 1] needs 2 values but the buffer holds 0');
  });

  it('emits the mean per (split, epoch) group at its end', async () => {
    const events: unknown[] = [];
    const impl = BinaryIou.main.create({ threshold: 0.5 }, { node: 'iou', kind: BinaryIou.kind, seed: 0, emit: (e) => events.push(e) });
    const meta = (index: number, split: string, groupEnd: boolean) => ({ index, split, epoch: 2, groupEnd });
    await impl.process({ probs: batch([[1, 0]]), masks: batch([[1, 0]]) }, meta(0, 'val', false));
    await impl.process({ probs: batch([[1, 1]]), masks: batch([[1, 0]]) }, meta(1, 'val', true));
    await impl.process({ probs: batch([[0, 0]]), masks: batch([[1, 0]]) }, meta(2, 'test', false));
    await impl.finish!();
    expect(events).toEqual([
      { type: 'metric', name: 'iou', value: 0.75, split: 'val', epoch: 2 },
      { type: 'metric', name: 'iou', value: 0, split: 'test', epoch: 2 },
    ]);
  });
});
