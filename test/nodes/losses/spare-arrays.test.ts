/** The set loss's reuse of its step arrays: what comes back out, and what is never kept. */
import { describe, expect, it } from 'vitest';
import { SpareArrays } from '../../../src/nodes/losses/spare-arrays.ts';

describe('SpareArrays', () => {
  it('hands a given-back array out again for the same length only, once', () => {
    const spare = new SpareArrays(4);
    const a = spare.take(8);
    spare.giveBack(a, a); // twice: kept once
    expect(spare.take(4)).not.toBe(a);
    expect(spare.take(8)).toBe(a);
    expect(spare.take(8)).not.toBe(a);
  });

  it('keeps no more than its capacity, and never a view into a larger buffer', () => {
    const spare = new SpareArrays(2);
    const [a, b, c] = [new Float32Array(3), new Float32Array(3), new Float32Array(3)];
    spare.giveBack(a, b, c);
    const out = [spare.take(3), spare.take(3), spare.take(3)];
    expect(out.filter((x) => x === a || x === b || x === c)).toHaveLength(2);
    const view = new Float32Array(16).subarray(4, 8);
    spare.giveBack(view);
    expect(spare.take(4)).not.toBe(view);
  });
});
