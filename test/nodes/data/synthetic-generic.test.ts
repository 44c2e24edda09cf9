/** The generic scene set: deterministic, many objects with occlusion, and the object picker. */
import { describe, expect, it } from 'vitest';
import { pickInstances } from '../../../src/nodes/data/pick-instance.ts';
import { syntheticGenericScene } from '../../../src/nodes/data/synthetic-generic.ts';

describe('synthetic generic scenes', () => {
  it('are a function of the seed, with several visible objects, some partly hidden', () => {
    const a = syntheticGenericScene(64, 7);
    expect(syntheticGenericScene(64, 7)).toEqual(a);
    expect(syntheticGenericScene(64, 8).image.data).not.toEqual(a.image.data);
    const visible = Array.from({ length: 20 }, (_, s) => new Set(syntheticGenericScene(64, s).instances.data).size - 1);
    expect(Math.min(...visible)).toBeGreaterThanOrEqual(2);
    expect(visible.reduce((x, y) => x + y, 0) / visible.length).toBeGreaterThan(4);
    // Occlusion: some drawn object ids are not visible at all or only in part; the ids go up to the number drawn.
    const maxId = Array.from({ length: 20 }, (_, s) => Math.max(...syntheticGenericScene(64, s).instances.data));
    expect(maxId.some((m, s) => m > visible[s]!)).toBe(true);
  });

  it('picks distinct objects by content: the same for a fixed seed (validation), others per training epoch', () => {
    const { instances } = syntheticGenericScene(64, 3);
    const ids = instances.data;
    const first = pickInstances(ids, 3, 11, 0.005);
    expect(pickInstances(ids, 3, 11, 0.005)).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    for (const id of first) expect(ids.filter((v) => v === id).length).toBeGreaterThanOrEqual(0.005 * 64 * 64);
    const seen = new Set(Array.from({ length: 12 }, (_, epoch) => pickInstances(ids, 1, epoch, 0.005)[0]));
    expect(seen.size).toBeGreaterThan(1);
    // Nothing big enough: the largest; nothing at all: none.
    expect(pickInstances(new Uint8Array([0, 1, 2, 2]), 2, 0, 0.9)).toEqual([2]);
    expect(pickInstances(new Uint8Array(4), 2, 0, 0)).toEqual([]);
  });
});
