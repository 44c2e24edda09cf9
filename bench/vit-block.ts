/**
 * One SAM ViT block with global attention and a rank-4 LoRA on qkv, for bench/kernels.ts: the
 * same work as bench/reference/vit_block.py (frozen weights; gradients for the input and LoRA).
 */
import * as tf from '@tensorflow/tfjs';
import { encoderBlock } from '../src/nodes/sam/image-encoder.ts';
import type { SamParams } from '../src/nodes/sam/params.ts';

export interface BlockShape {
  readonly grid: number;
  readonly dim: number;
}

export const headsFor = (dim: number) => (dim >= 512 ? dim / 64 : dim / 32);

export interface BlockBench {
  forward(): void;
  trainStep(): void;
  dispose(): void;
}

export function makeBlock({ grid, dim }: BlockShape, rank = 4): BlockBench {
  const heads = headsFor(dim);
  const hd = dim / heads;
  let seed = 1;
  const normal = (shape: number[], std: number) => tf.randomNormal(shape, 0, std, 'float32', seed++);
  const params: SamParams = new Map<string, tf.Tensor>([
    ['b.norm1.weight', tf.ones([dim])],
    ['b.norm1.bias', tf.zeros([dim])],
    ['b.attn.qkv.weight', normal([dim, 3 * dim], 0.02)],
    ['b.attn.qkv.bias', tf.zeros([3 * dim])],
    ['b.attn.proj.weight', normal([dim, dim], 0.02)],
    ['b.attn.proj.bias', tf.zeros([dim])],
    ['b.attn.rel_pos_h', normal([2 * grid - 1, hd], 0.02)],
    ['b.attn.rel_pos_w', normal([2 * grid - 1, hd], 0.02)],
    ['b.norm2.weight', tf.ones([dim])],
    ['b.norm2.bias', tf.zeros([dim])],
    ['b.mlp.lin1.weight', normal([dim, 4 * dim], 0.02)],
    ['b.mlp.lin1.bias', tf.zeros([4 * dim])],
    ['b.mlp.lin2.weight', normal([4 * dim, dim], 0.02)],
    ['b.mlp.lin2.bias', tf.zeros([dim])],
  ]);
  const loraA = normal([dim, rank], 0.02);
  const loraB = normal([rank, 3 * dim], 0.02);
  const x = normal([1, grid, grid, dim], 1) as tf.Tensor4D;
  const weights = normal([1, grid, grid, dim], 1);

  const run = (input: tf.Tensor4D, a: tf.Tensor, b: tf.Tensor) => {
    const withLora: SamParams = Object.assign(new Map(params), {
      hooks: {
        linear: [(name: string, inp: tf.Tensor, out: tf.Tensor) => (name.endsWith('.qkv') ? tf.add(out, tf.matMul(tf.matMul(inp.reshape([-1, dim]), a), b).reshape(out.shape)) : out)],
        norm: [],
        attentionPrompts: [],
      },
    });
    return encoderBlock(input, withLora, 'b', heads, 0);
  };
  const loss = (input: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(run(input as tf.Tensor4D, a, b), weights));
  const grads = tf.grads(loss);
  return {
    forward: () => tf.tidy(() => void run(x, loraA, loraB).dataSync()),
    trainStep: () =>
      tf.tidy(() => {
        const g = grads([x, loraA, loraB]);
        for (const t of g) t.dataSync();
      }),
    dispose: () => tf.dispose([...params.values(), loraA, loraB, x, weights]),
  };
}
