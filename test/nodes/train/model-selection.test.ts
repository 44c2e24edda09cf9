import { describe, expect, it } from 'vitest';
import { ModelSelection, TrainControl, type SelectionState } from '../../../src/nodes/train/model-selection.ts';

const control = (c: Partial<TrainControl>) => TrainControl.parse(c);
const name = (epoch: number) => `epoch-${epoch + 1}`;

/** Feeds values as epochs 0, 1, ... and returns what each observation said. */
function feed(selection: ModelSelection, values: readonly number[], first = 0) {
  return values.map((v, i) => selection.observe(first + i, v, name(first + i)));
}

/**
 * Lightning's EarlyStopping (callbacks/early_stopping.py), ported: best starts at +-inf, an
 * improvement is `monitor_op(current - min_delta, best)` with min_delta's sign flipped for
 * 'min', otherwise wait_count += 1 and the run stops once wait_count >= patience.
 */
function lightningEarlyStopping(mode: 'min' | 'max', minDelta: number, patience: number) {
  const monitorOp = mode === 'min' ? (a: number, b: number) => a < b : (a: number, b: number) => a > b;
  const delta = mode === 'min' ? -minDelta : minDelta;
  let best = mode === 'min' ? Infinity : -Infinity;
  let wait = 0;
  return (current: number) => {
    if (monitorOp(current - delta, best)) {
      best = current;
      wait = 0;
      return { improved: true, stop: false };
    }
    wait += 1;
    return { improved: false, stop: wait >= patience };
  };
}

describe('model selection', () => {
  it('counts an improvement in min mode only when it is lower by more than minDelta', () => {
    const s = new ModelSelection(control({ mode: 'min', minDelta: 0.1 }));
    // 1 (first), 0.9 (lower by exactly minDelta: not more), 0.95, 0.85 (1 - 0.85 > 0.1), 0.8 (0.85 - 0.8 < 0.1)
    expect(feed(s, [1, 0.9, 0.95, 0.85, 0.8]).map((o) => o.improved)).toEqual([true, false, false, true, false]);
    expect(s.best).toEqual({ epoch: 3, value: 0.85, checkpoint: 'epoch-4' });
  });

  it('counts an improvement in max mode only when it is higher by more than minDelta', () => {
    const s = new ModelSelection(control({ mode: 'max', minDelta: 0.05 }));
    expect(feed(s, [0.5, 0.55, 0.56, 0.49, 0.5625]).map((o) => o.improved)).toEqual([true, false, true, false, false]);
    expect(s.best?.epoch).toBe(2);
  });

  it('stops once patience validated epochs in a row did not improve, and a new best resets the count', () => {
    const s = new ModelSelection(control({ monitor: 'sm', mode: 'max', patience: 2 }));
    const stops = feed(s, [0.5, 0.4, 0.6, 0.6, 0.55]).map((o) => o.stop);
    expect(stops.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect(stops[4]).toBe('early stopping: val sm did not improve for 2 validated epoch(s); best 0.6000 at epoch 3');
  });

  it('names minDelta in the stop reason when one is set', () => {
    const s = new ModelSelection(control({ patience: 1, minDelta: 0.01 }));
    expect(feed(s, [0.3, 0.295]).map((o) => o.stop)).toEqual([undefined, 'early stopping: val loss did not improve by more than 0.01 for 1 validated epoch(s); best 0.3000 at epoch 1']);
  });

  it('never stops with patience 0', () => {
    const s = new ModelSelection(control({ patience: 0 }));
    expect(feed(s, [1, 2, 3, 4, 5, 6, 7, 8]).every((o) => o.stop === undefined)).toBe(true);
  });

  it("agrees with Lightning's EarlyStopping on improvements and on the epoch it stops", () => {
    // A bumpy curve with plateaus within and just beyond minDelta.
    const curve = [0.9, 0.7, 0.71, 0.695, 0.69, 0.6, 0.6, 0.65, 0.58, 0.59, 0.5799, 0.57, 0.7, 0.56, 0.561, 0.562, 0.5];
    for (const mode of ['min', 'max'] as const) {
      for (const minDelta of [0, 0.005, 0.02]) {
        for (const patience of [1, 2, 3]) {
          const values = mode === 'min' ? curve : curve.map((v) => 1 - v);
          const reference = lightningEarlyStopping(mode, minDelta, patience);
          const s = new ModelSelection(control({ mode, minDelta, patience }));
          const where = `${mode} minDelta ${minDelta} patience ${patience}`;
          for (const [epoch, value] of values.entries()) {
            const expected = reference(value);
            const got = s.observe(epoch, value, name(epoch));
            expect({ improved: got.improved, stop: got.stop !== undefined }, `${where} epoch ${epoch}`).toEqual(expected);
            if (expected.stop) break;
          }
        }
      }
    }
  });

  it('never takes a NaN as the best, and counts it as an epoch without improvement', () => {
    const s = new ModelSelection(control({ patience: 2 }));
    const [first, second] = feed(s, [NaN, NaN]);
    expect(first!.improved).toBe(false);
    expect(s.best).toBeUndefined();
    expect(second!.stop).toMatch(/best none$/);

    const t = new ModelSelection(control({ patience: 5 }));
    expect(feed(t, [0.4, NaN, 0.3]).map((o) => o.improved)).toEqual([true, false, true]);
    expect(t.state().stale).toBe(0);
  });

  it('keeps the best `keep` checkpoints by value, best first', () => {
    const s = new ModelSelection(control({ mode: 'min', keep: 3 }));
    feed(s, [0.5, 0.3, 0.8, 0.1, 0.4]);
    expect(s.kept.map((k) => [k.checkpoint, k.value])).toEqual([['epoch-4', 0.1], ['epoch-2', 0.3], ['epoch-5', 0.4]]);
    const m = new ModelSelection(control({ mode: 'max', keep: 2 }));
    feed(m, [0.5, 0.3, 0.8, 0.1, 0.4]);
    expect(m.kept.map((k) => k.checkpoint)).toEqual(['epoch-3', 'epoch-1']);
  });

  it('lists in `dropped` the checkpoints that fall out of the top k, and nothing while there is room', () => {
    const s = new ModelSelection(control({ mode: 'min', keep: 2 }));
    expect(feed(s, [0.5, 0.3]).map((o) => o.dropped)).toEqual([[], []]);
    expect(s.observe(2, 0.4, 'epoch-3').dropped).toEqual(['epoch-1']); // 0.5 is now third
    expect(s.observe(3, 0.9, 'epoch-4').dropped).toEqual([]); // worse than both kept: nothing falls out
    expect(s.observe(4, 0.1, 'epoch-5').dropped).toEqual(['epoch-3']);
    expect(s.kept.map((k) => k.checkpoint)).toEqual(['epoch-5', 'epoch-2']);
  });

  it('keeps the earlier epoch on a tie, in the ranking and as the best', () => {
    const s = new ModelSelection(control({ mode: 'max', keep: 2 }));
    feed(s, [0.7, 0.6, 0.7]);
    expect(s.kept.map((k) => k.checkpoint)).toEqual(['epoch-1', 'epoch-3']);
    expect(s.best?.epoch).toBe(0);
    // A tie with the k-th kept does not push it out (Lightning's check_monitor_top_k is strict).
    expect(s.observe(3, 0.7, 'epoch-4').dropped).toEqual([]);
    expect(s.kept.map((k) => k.checkpoint)).toEqual(['epoch-1', 'epoch-3']);
  });

  it('ranks NaN after every number: kept while there is room, dropped first', () => {
    const s = new ModelSelection(control({ mode: 'max', keep: 2 }));
    feed(s, [NaN, 0.2]);
    expect(s.kept.map((k) => k.checkpoint)).toEqual(['epoch-2', 'epoch-1']);
    expect(s.observe(2, 0.1, 'epoch-3').dropped).toEqual(['epoch-1']);
    const t = new ModelSelection(control({ mode: 'min', keep: 2 }));
    feed(t, [0.5, NaN, NaN, 0.7]);
    expect(t.kept.map((k) => k.checkpoint)).toEqual(['epoch-1', 'epoch-4']);
  });

  it('continues from state() exactly as the selection it was taken from', () => {
    const c = control({ mode: 'min', keep: 2, patience: 3, minDelta: 0.01 });
    const values = [0.8, 0.6, 0.65, 0.595, NaN, 0.61, 0.5, 0.55, 0.56, 0.52, 0.58];
    const whole = new ModelSelection(c);
    const wholeObservations = feed(whole, values);
    for (const cut of [1, 3, 4, 5, 8]) {
      const before = new ModelSelection(c);
      feed(before, values.slice(0, cut));
      // Through JSON, as a checkpoint's run-state.json carries it (a NaN score is written as null).
      const restored = new ModelSelection(c, JSON.parse(JSON.stringify(before.state())) as SelectionState);
      expect(feed(restored, values.slice(cut), cut), `cut at ${cut}`).toEqual(wholeObservations.slice(cut));
      expect(restored.state(), `cut at ${cut}`).toEqual(whole.state());
      expect(restored.kept).toEqual(whole.kept);
    }
  });

  it('still ranks a NaN score last after it went through JSON as null', () => {
    const c = control({ mode: 'min', keep: 2 });
    const before = new ModelSelection(c);
    feed(before, [0.5, NaN]);
    const text = JSON.stringify(before.state());
    expect(text).toContain('"value":null');
    const restored = new ModelSelection(c, JSON.parse(text) as SelectionState);
    // Uninterrupted: 0.4 and 0.5 are the best two, the NaN epoch falls out.
    expect(restored.observe(2, 0.4, 'epoch-3').dropped).toEqual(['epoch-2']);
    expect(restored.kept.map((k) => k.checkpoint)).toEqual(['epoch-3', 'epoch-1']);
  });

  it('does not share its score list with the state it was given or returned', () => {
    const s = new ModelSelection(control({}));
    feed(s, [0.5]);
    const state = s.state();
    s.observe(1, 0.4, 'epoch-2');
    expect(state.scores).toHaveLength(1);
    const restored = new ModelSelection(control({}), state);
    restored.observe(1, 0.3, 'x');
    expect(state.scores).toHaveLength(1);
  });
});
