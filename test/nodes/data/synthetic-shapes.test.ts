import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { SyntheticShapes, syntheticShape } from '../../../src/nodes/data/synthetic-shapes.ts';

const hash = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');

function items(params: Record<string, unknown>, seed = 7) {
  const made = SyntheticShapes.main.create(SyntheticShapes.params.parse(params), { node: 'data', kind: SyntheticShapes.kind, seed, emit: () => undefined, skip: 0 });
  return [...(made as Iterable<{ values: { image: { data: Uint8Array }; mask: { data: Uint8Array } }; meta: { split: string; epoch: number; groupEnd: boolean } }>)];
}

describe('synthetic shapes', () => {
  it('is deterministic by seed and differs across seeds', () => {
    expect(hash(syntheticShape(32, 5).image.data)).toBe(hash(syntheticShape(32, 5).image.data));
    expect(hash(syntheticShape(32, 5).image.data)).not.toBe(hash(syntheticShape(32, 6).image.data));
  });

  it('masks are binary, non-empty, and cover reddish target pixels', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { image, mask } = syntheticShape(48, seed);
      expect(mask.data.length).toBe(48 * 48);
      expect(image.data.length).toBe(48 * 48 * 3);
      let fg = 0;
      mask.data.forEach((m, i) => {
        expect(m === 0 || m === 1).toBe(true);
        if (m) {
          fg++;
          const [r, g, b] = [image.data[i * 3]!, image.data[i * 3 + 1]!, image.data[i * 3 + 2]!];
          expect(r).toBeGreaterThan(g);
          expect(r).toBeGreaterThan(b);
        }
      });
      expect(fg).toBeGreaterThan(0);
    }
  });

  it('yields each epoch the shuffled training split then the fixed validation split, with group ends', () => {
    const all = items({ size: 16, train: 5, val: 3, epochs: 2 });
    expect(all.map((i) => `${i.meta.epoch}${i.meta.split[0]}${i.meta.groupEnd ? '!' : ''}`)).toEqual([
      '0t', '0t', '0t', '0t', '0t!', '0v', '0v', '0v!', '1t', '1t', '1t', '1t', '1t!', '1v', '1v', '1v!',
    ]);
    const train0 = all.slice(0, 5).map((i) => hash(i.values.image.data));
    const train1 = all.slice(8, 13).map((i) => hash(i.values.image.data));
    const val = all.filter((i) => i.meta.split === 'val').map((i) => hash(i.values.image.data));
    expect(new Set(train1)).toEqual(new Set(train0));
    expect(train1).not.toEqual(train0);
    expect(val.slice(0, 3)).toEqual(val.slice(3));
    // the model never trains on a validation image
    for (const v of val) expect(train0).not.toContain(v);
  });

  it('rejects impossible params', () => {
    expect(() => SyntheticShapes.params.parse({ size: 4 })).toThrow(/size/);
  });
});
