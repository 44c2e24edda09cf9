import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { SyntheticClasses, syntheticClasses } from '../../../src/nodes/data/synthetic-classes.ts';
import { SyntheticScenes, syntheticScene } from '../../../src/nodes/data/synthetic-scenes.ts';
import { SyntheticShapes, syntheticShape } from '../../../src/nodes/data/synthetic-shapes.ts';
import { drain, schedule } from '../../fixtures/datasets.ts';

const hash = (data: ArrayBufferView) => createHash('sha1').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
const SHIFT = { texture: 1, colour: 1, shape: 1 };

describe('synthetic multi-class and multi-task sets, and the domain-shift knob', () => {
  it('multi-class: deterministic, class ids below `classes` plus an ignore band on edges', () => {
    expect(hash(syntheticClasses(32, 4, 5).image.data)).toBe(hash(syntheticClasses(32, 4, 5).image.data));
    expect(hash(syntheticClasses(32, 4, 5).label.data)).not.toBe(hash(syntheticClasses(32, 5, 5).label.data));
    const seen = new Set<number>();
    for (let seed = 0; seed < 12; seed++) for (const v of syntheticClasses(32, seed, 5).label.data) seen.add(v);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 255]);
    expect(syntheticClasses(32, 1, 5, { ignoreEdges: false }).label.data.includes(255)).toBe(false);
  });

  it('multi-class: a class is a shape, not a colour (each class appears in many hues); too many classes is an error', () => {
    const hues = new Map<number, Set<number>>();
    for (let seed = 0; seed < 40; seed++) {
      const { image, label } = syntheticClasses(48, seed, 7, { ignoreEdges: false });
      for (let i = 0; i < label.data.length; i++) {
        const k = label.data[i]!;
        if (k === 0) continue;
        const [r, g, b] = [image.data[3 * i]!, image.data[3 * i + 1]!, image.data[3 * i + 2]!];
        // the dominant channel pair, a coarse hue
        const hue = Math.round((Math.atan2(Math.sqrt(3) * (g - b), 2 * r - g - b) + Math.PI) / (Math.PI / 3)) % 6;
        (hues.get(k) ?? hues.set(k, new Set()).get(k)!).add(hue);
      }
    }
    expect([...hues.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [, seen] of hues) expect(seen.size).toBeGreaterThanOrEqual(4);
    expect(() => syntheticClasses(32, 1, 8)).toThrow('synthetic classes: 8 classes, but there are 6 shapes, so 2..7 (with the background)');
  });

  it('multi-task: depth in metres (0 only in sensor holes), unit normals (zero in holes), 4 classes', () => {
    let holes = 0;
    const bad: string[] = [];
    for (let seed = 0; seed < 10; seed++) {
      const s = syntheticScene(24, seed);
      for (let i = 0; i < 24 * 24; i++) {
        const hole = s.label.data[i] === 255;
        holes += hole ? 1 : 0;
        const n = Math.hypot(s.normal.data[i * 3]!, s.normal.data[i * 3 + 1]!, s.normal.data[i * 3 + 2]!);
        const ok = hole ? s.depth.data[i] === 0 && n === 0 : s.label.data[i]! < 4 && s.depth.data[i]! > 0.5 && Math.abs(n - 1) < 1e-5;
        if (!ok) bad.push(`seed ${seed} pixel ${i}: label ${s.label.data[i]}, depth ${s.depth.data[i]}, |n| ${n}`);
      }
    }
    expect(bad).toEqual([]);
    expect(holes).toBeGreaterThan(0);
    expect(hash(syntheticScene(24, 3).depth.data)).toBe(hash(syntheticScene(24, 3).depth.data));
  });

  it('the domain knob changes the look but not the targets, and leaves the default untouched', () => {
    for (const seed of [1, 2, 3]) {
      const base = syntheticShape(32, seed);
      const texture = syntheticShape(32, seed, { texture: 1, colour: 0, shape: 0 });
      const colour = syntheticShape(32, seed, { texture: 0, colour: 1, shape: 0 });
      expect(hash(texture.mask.data)).toBe(hash(base.mask.data));
      expect(hash(colour.mask.data)).toBe(hash(base.mask.data));
      expect(hash(texture.image.data)).not.toBe(hash(base.image.data));
      // A 120-degree hue turn makes reddish targets green-dominant.
      let greener = 0;
      let target = 0;
      colour.mask.data.forEach((m, i) => {
        if (!m) return;
        target++;
        if (colour.image.data[i * 3 + 1]! > colour.image.data[i * 3]!) greener++;
      });
      expect(greener / target).toBeGreaterThan(0.9);
    }
    const shapes = [1, 2, 3, 4, 5].map((seed) => [syntheticClasses(32, seed, 4).label.data, syntheticClasses(32, seed, 4, { domain: SHIFT }).label.data]);
    expect(shapes.some(([a, b]) => hash(a!) !== hash(b!))).toBe(true);
    expect(hash(syntheticScene(24, 9, SHIFT).image.data)).not.toBe(hash(syntheticScene(24, 9).image.data));
  });

  it('the source nodes yield train (reshuffled) then val each epoch, with the domain as a param', async () => {
    const params = { size: 16, train: 3, val: 2, epochs: 2, domain: { colour: 0.5 } };
    for (const node of [SyntheticClasses, SyntheticScenes, SyntheticShapes] as const) {
      const { items } = await drain(node.main as never, node.params.parse(params));
      expect(schedule(items)).toEqual(['train:0', 'train:0', 'train:0!', 'val:0', 'val:0!', 'train:1', 'train:1', 'train:1!', 'val:1', 'val:1!']);
    }
    expect(SyntheticShapes.params.parse({}).domain).toEqual({ texture: 0, colour: 0, shape: 0 });
  });
});
