/** Prompts simulated from masks: points inside, the centre point farthest from the edge, jittered boxes around. */
import { describe, expect, it } from 'vitest';
import { centrePoint, noisyBox, randomPoint } from '../../../src/nodes/sam/pretrain-prompts.ts';
import { mulberry32 } from '../../../src/nodes/random.ts';

// A 10x8 mask with a 5x3 block at x 2..6, y 3..5.
const W = 10;
const mask = new Float32Array(W * 8);
for (let y = 3; y <= 5; y++) for (let x = 2; x <= 6; x++) mask[y * W + x] = 1;

describe('simulated prompts', () => {
  it('draws foreground points, and the centre point is the deepest pixel', () => {
    const random = mulberry32(1);
    for (let i = 0; i < 50; i++) {
      const p = randomPoint(mask, W, random);
      expect(p.label).toBe(1);
      expect(mask[p.y * W + p.x]).toBe(1);
    }
    expect(centrePoint(mask, W)).toEqual({ x: 3, y: 4, label: 1 });
    // A mask touching the border: the border counts as an edge.
    const edge = new Float32Array(W * 8);
    for (let x = 0; x < W; x++) edge[x] = edge[W + x] = 1;
    expect(centrePoint(edge, W).y).toBeLessThanOrEqual(1);
    expect(centrePoint(new Float32Array(W * 8), W).label).toBe(0);
  });

  it('jitters the box by at most 10 % of its side per standard deviation, inside the image', () => {
    const random = mulberry32(2);
    const boxes = Array.from({ length: 200 }, () => noisyBox(mask, W, random));
    for (const [x0, y0, x1, y1] of boxes) {
      expect(x0).toBeLessThanOrEqual(x1);
      expect(y0).toBeLessThanOrEqual(y1);
      expect(Math.min(x0, y0)).toBeGreaterThanOrEqual(0);
      expect(x1).toBeLessThanOrEqual(W - 1);
    }
    const meanX0 = boxes.reduce((n, b) => n + b[0], 0) / boxes.length;
    expect(meanX0).toBeCloseTo(2, 0);
    expect(new Set(boxes.map((b) => b[0])).size).toBeGreaterThan(10);
    expect(noisyBox(new Float32Array(W * 8), W, random)).toEqual([0, 0, W - 1, 7]);
  });
});
