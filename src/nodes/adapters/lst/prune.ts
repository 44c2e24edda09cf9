/**
 * Initial weights of LST's side blocks. The paper initialises the side network from the
 * backbone, structurally pruned to 1/r of its width: the public code keeps the rows and columns
 * of largest importance, by L1 norm of the weights themselves or of their Fisher information
 * (which needs labelled data and a backward pass through the backbone). Here the importance is
 * the weights' L1 norm, so injection needs no data. Per block, in this order:
 *
 *   residual channels S (|S| = s): one set for all side blocks, as the side stream is one
 *     residual stream; score = Σ over the side blocks of the L1 norms of the rows of qkv and
 *     mlp.lin1 (what reads the channel) and of the columns of attn.proj and mlp.lin2 (what writes it);
 *   query/key dims J (|J| = head width / r): one set for all heads, as the rel-pos tables are
 *     shared by the heads; score = L1 of q and k columns (on rows S) plus the rel-pos columns;
 *   value dims V: score = L1 of v columns (rows S) plus the proj rows they feed (columns S);
 *   MLP units U (|U| = s · mlp_ratio): score = L1 of lin1 columns plus lin2 rows (on S).
 *
 * Kept indices stay in backbone order. `random` is a fresh block instead, as SAM initialises
 * one (truncated normal σ 0.02 linears, zero biases, unit norms, zero rel-pos tables).
 */
import * as tf from '@tensorflow/tfjs';
import { param } from '../../sam/ops.ts';
import type { SamParams } from '../../sam/params.ts';
import type { LstDims } from './dims.ts';

/** A side block's weights by the suffix encoderBlock reads (`attn.qkv.weight`), in TF layout. */
export type SideBlockInit = Map<string, tf.Tensor>;

/** The indices of the k largest scores, ascending. */
export function topIndices(scores: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k)
    .sort((a, b) => a - b);
}

const l1 = (w: tf.Tensor, axis: number) => tf.sum(tf.abs(w), axis);
const take = (w: tf.Tensor, indices: readonly number[], axis: number) => tf.gather(w, tf.tensor1d([...indices], 'int32'), axis);

export function prunedSideBlocks(params: SamParams, dims: LstDims): Map<number, SideBlockInit> {
  const { embed: d, side: s, heads, headDim: hs, mlp: ms, blocks } = dims;
  const hd = d / heads;
  const w = (block: number, suffix: string) => param(params, `image_encoder.blocks.${block}.${suffix}`);
  const residual = topIndices(
    tf.tidy(() =>
      tf.addN(blocks.flatMap((i) => [l1(w(i, 'attn.qkv.weight'), 1), l1(w(i, 'mlp.lin1.weight'), 1), l1(w(i, 'attn.proj.weight'), 0), l1(w(i, 'mlp.lin2.weight'), 0)])).dataSync(),
    ),
    s,
  );
  const out = new Map<number, SideBlockInit>();
  for (const i of blocks) {
    const init: SideBlockInit = new Map();
    tf.tidy(() => {
      const qkv = take(w(i, 'attn.qkv.weight'), residual, 0); // [s, 3d]
      const perDim = tf.sum(tf.abs(qkv).reshape([s, 3, heads, hd]), [0, 2]); // [3, hd]: q, k, v
      const [q, k, v] = tf.unstack(perDim) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      const proj = take(w(i, 'attn.proj.weight'), residual, 1); // [d, s]
      const qk = topIndices(tf.addN([q, k, l1(w(i, 'attn.rel_pos_h'), 0), l1(w(i, 'attn.rel_pos_w'), 0)]).dataSync(), hs);
      const vDims = topIndices(tf.add(v, tf.sum(l1(proj, 1).reshape([heads, hd]), 0)).dataSync(), hs);
      const qkvColumns = [0, 1, 2].flatMap((which) => Array.from({ length: heads }, (_, h) => (which < 2 ? qk : vDims).map((j) => which * d + h * hd + j)).flat());
      const projRows = Array.from({ length: heads }, (_, h) => vDims.map((j) => h * hd + j)).flat();
      const lin1 = take(w(i, 'mlp.lin1.weight'), residual, 0); // [s, m]
      const lin2 = take(w(i, 'mlp.lin2.weight'), residual, 1); // [m, s]
      const units = topIndices(tf.add(l1(lin1, 0), l1(lin2, 1)).dataSync(), ms);
      const set = (suffix: string, t: tf.Tensor) => init.set(suffix, tf.keep(t));
      for (const norm of ['norm1', 'norm2']) for (const p of ['weight', 'bias']) set(`${norm}.${p}`, take(w(i, `${norm}.${p}`), residual, 0));
      set('attn.qkv.weight', take(qkv, qkvColumns, 1));
      set('attn.qkv.bias', take(w(i, 'attn.qkv.bias'), qkvColumns, 0));
      set('attn.proj.weight', take(proj, projRows, 0));
      set('attn.proj.bias', take(w(i, 'attn.proj.bias'), residual, 0));
      set('attn.rel_pos_h', take(w(i, 'attn.rel_pos_h'), qk, 1));
      set('attn.rel_pos_w', take(w(i, 'attn.rel_pos_w'), qk, 1));
      set('mlp.lin1.weight', take(lin1, units, 1));
      set('mlp.lin1.bias', take(w(i, 'mlp.lin1.bias'), units, 0));
      set('mlp.lin2.weight', take(lin2, units, 0));
      set('mlp.lin2.bias', take(w(i, 'mlp.lin2.bias'), residual, 0));
    });
    out.set(i, init);
  }
  return out;
}

export function randomSideBlocks(dims: LstDims, seed: number): Map<number, SideBlockInit> {
  const { side: s, headDim: hs, mlp: ms, blocks, spanOf } = dims;
  let n = 0;
  const normal = (shape: number[]) => tf.truncatedNormal(shape, 0, 0.02, 'float32', seed * 7919 + 5000 + n++);
  const out = new Map<number, SideBlockInit>();
  for (const i of blocks) {
    const span = 2 * spanOf(i) - 1;
    out.set(
      i,
      new Map<string, tf.Tensor>([
        ['norm1.weight', tf.ones([s])],
        ['norm1.bias', tf.zeros([s])],
        ['attn.qkv.weight', normal([s, 3 * s])],
        ['attn.qkv.bias', tf.zeros([3 * s])],
        ['attn.proj.weight', normal([s, s])],
        ['attn.proj.bias', tf.zeros([s])],
        ['attn.rel_pos_h', tf.zeros([span, hs])],
        ['attn.rel_pos_w', tf.zeros([span, hs])],
        ['norm2.weight', tf.ones([s])],
        ['norm2.bias', tf.zeros([s])],
        ['mlp.lin1.weight', normal([s, ms])],
        ['mlp.lin1.bias', tf.zeros([ms])],
        ['mlp.lin2.weight', normal([ms, s])],
        ['mlp.lin2.bias', tf.zeros([s])],
      ]),
    );
  }
  return out;
}
