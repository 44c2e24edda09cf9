import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { PatchMlp } from '../../../src/nodes/models/patch-mlp.ts';

const step = { meta: { index: 0, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined };

describe('patch MLP', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('each output pixel depends on exactly the pixels of its own patch', async () => {
    const node = await PatchMlp.worker.create({ patch: 4, hidden: 8 }, { node: 'model', kind: PatchMlp.kind, seed: 11, emit: () => undefined });
    const images = tf.randomUniform([2, 8, 12, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (const [b, y, x] of [[0, 0, 0], [1, 5, 9], [0, 7, 4]] as const) {
      const grad = tf.grad((im: tf.Tensor) => node.forward({ images: im as tf.Tensor4D }, step).logits.slice([b, y, x, 0], [1, 1, 1, 1]).sum())(images);
      const g = grad.arraySync() as number[][][][];
      for (let bb = 0; bb < 2; bb++)
        for (let yy = 0; yy < 8; yy++)
          for (let xx = 0; xx < 12; xx++) {
            const inPatch = bb === b && Math.floor(yy / 4) === Math.floor(y / 4) && Math.floor(xx / 4) === Math.floor(x / 4);
            const touched = g[bb]![yy]![xx]!.some((v) => v !== 0);
            if (!inPatch) expect(touched, `pixel ${bb},${yy},${xx} for output ${b},${y},${x}`).toBe(false);
          }
    }
    expect(node.variables!()).toHaveLength(4);
  });

  it('rejects sides that are not a multiple of the patch', async () => {
    const node = await PatchMlp.worker.create({ patch: 4, hidden: 8 }, { node: 'model', kind: PatchMlp.kind, seed: 1, emit: () => undefined });
    expect(() => node.forward({ images: tf.zeros([1, 6, 8, 3]) as tf.Tensor4D }, step)).toThrow('images of shape [1, 6, 8, 3] need 3 channels and sides divisible by patch 4');
  });
});
