import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { normalizeAndPad, postprocessMasks, resizedShape, scaleCoords } from '../../../src/nodes/sam/transforms.ts';
import { fixture, maxAbsDiff, useBackend } from './fixtures.ts';

describe('SAM transforms', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('resizes the longest side with round-half-up, as ResizeLongestSide', () => {
    expect(resizedShape(480, 640, 1024)).toEqual([768, 1024]);
    expect(resizedShape(1072, 1920, 1024)).toEqual([572, 1024]); // 1072·1024/1920 = 571.73
    expect(resizedShape(332, 352, 1024)).toEqual([966, 1024]); // 965.8
    expect(scaleCoords([320, 240, 640, 480], [480, 640], 1024)).toEqual([512, 384, 1024, 768]);
  });

  it('normalises with SAM pixel statistics and pads bottom-right with zeros', () => {
    const img = tf.tensor4d([123.675, 116.28, 103.53, 123.675 + 58.395, 116.28, 103.53 - 57.375], [1, 1, 2, 3]);
    const out = normalizeAndPad(img, 3);
    expect(out.shape).toEqual([1, 3, 3, 3]);
    const v = out.arraySync()[0]!;
    expect(v[0]![0]).toEqual([0, 0, 0]);
    expect(v[0]![1]!.map((x) => Math.round(x * 1e5) / 1e5)).toEqual([1, 0, -1]);
    expect(v[2]![2]).toEqual([0, 0, 0]);
    expect(() => normalizeAndPad(tf.zeros([1, 4, 2, 3]) as tf.Tensor4D, 3)).toThrow('no larger than 3x3');
  });

  it('upscales logits, crops the padding and resizes to the original size, as Sam.postprocess_masks', () => {
    const out = postprocessMasks(fixture('comp_post_in') as tf.Tensor4D, [64, 48], [100, 75], 64);
    expect(maxAbsDiff(out, fixture('comp_post_out'))).toBeLessThan(1e-5);
  });
});
