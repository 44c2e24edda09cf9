/**
 * Every binary metric against values computed independently with numpy/scipy
 * (test/fixtures/reference/make_reference.py, a transcription of the toolbox the Conv-LoRA code
 * uses), on blobs, noise and the edge cases: empty / full ground truth, constant predictions,
 * a single foreground pixel, foreground on the last column, grey ground-truth values.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BinaryImage } from '../../../src/nodes/metrics/binary-image.ts';
import { BINARY_METRICS, scoreBinaryImage } from '../../../src/nodes/metrics/binary-metrics.ts';

interface Case {
  name: string;
  width: number;
  height: number;
  predKind: 'uint8' | 'float32';
  pred: number[];
  gt: number[];
  expected: Record<string, number>;
}

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/reference/binary-metrics.json', import.meta.url), 'utf8')) as { cases: Case[] };

export function referenceImage(c: Case): BinaryImage {
  return {
    width: c.width,
    height: c.height,
    pred: c.predKind === 'uint8' ? Uint8Array.from(c.pred) : Float32Array.from(c.pred),
    gt: Uint8Array.from(c.gt),
  };
}

describe('binary metrics vs the numpy/scipy reference', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const scores = scoreBinaryImage(referenceImage(c));
    for (const name of BINARY_METRICS) {
      expect.soft(scores[name], name).toBeCloseTo(c.expected[name]!, 10);
    }
  });
});
