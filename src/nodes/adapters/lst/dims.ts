/**
 * LST's sizes on a SAM config, from the adapter config alone (the parameter report needs no
 * weights). The side network is the encoder scaled down by the reduction factor r in width, as
 * the public code scales T5 (d_model, d_kv and d_ff divided by r, the head count kept): width
 * s = encoder_embed_dim / r, head width (encoder_embed_dim / heads) / r, MLP hidden s · mlp_ratio.
 */
import { gridSize, type SamConfig } from '../../sam/config.ts';
import type { AdapterConfig } from '../config.ts';

export interface LstDims {
  /** encoder_embed_dim */
  readonly embed: number;
  /** The side network's width, embed / r. */
  readonly side: number;
  readonly heads: number;
  /** A side block's head width, side / heads. */
  readonly headDim: number;
  /** A side block's MLP hidden width. */
  readonly mlp: number;
  /** Encoder blocks with a ladder and a side block, ascending. */
  readonly blocks: readonly number[];
  /** Attention window of block i (0: global), as the backbone's. */
  windowOf(block: number): number;
  /** Side length of block i's rel-pos table span (the window, or the grid for global blocks). */
  spanOf(block: number): number;
}

export function lstDims(c: SamConfig, a: AdapterConfig): LstDims {
  const r = a.sideReduction;
  const d = c.encoder_embed_dim;
  if (d % r !== 0) throw new Error(`adapter config: sideReduction ${r} does not divide encoder_embed_dim ${d}; LST's side network is encoder_embed_dim / sideReduction channels wide`);
  const side = d / r;
  if (side % c.encoder_num_heads !== 0) {
    throw new Error(`adapter config: sideReduction ${r} gives a side width of ${side}, which encoder_num_heads ${c.encoder_num_heads} does not divide (the side blocks keep the backbone's heads)`);
  }
  for (const layer of a.layers ?? []) {
    if (layer >= c.encoder_depth) throw new Error(`adapter config: layers has ${layer}, but the encoder has ${c.encoder_depth} blocks (0..${c.encoder_depth - 1})`);
  }
  const blocks = a.layers ? [...new Set(a.layers)].sort((x, y) => x - y) : Array.from({ length: c.encoder_depth }, (_, i) => i);
  const isGlobal = (i: number) => c.encoder_global_attn_indexes.includes(i);
  return {
    embed: d,
    side,
    heads: c.encoder_num_heads,
    headDim: side / c.encoder_num_heads,
    mlp: Math.round(side * c.mlp_ratio),
    blocks,
    windowOf: (i) => (isGlobal(i) ? 0 : c.window_size),
    spanOf: (i) => (isGlobal(i) ? gridSize(c) : c.window_size),
  };
}

/**
 * Parameters LST adds: the first down-projection of the patch embedding and one ladder
 * (down-projection) per side block, d → s with biases; one gate α per side block; the side
 * blocks (norms, qkv, proj, rel-pos tables, MLP, all at width s); the final up-projection s → d
 * with bias. vit_b, r = 8 (s = 96, head width 8, MLP 384): 13 × 73,824 + 12 + 12 × 111,840 +
 * 8 × 432 + 4 × 2,032 + 74,496 = 2,387,884.
 */
export function lstParameters(c: SamConfig, a: AdapterConfig): number {
  const { embed: d, side: s, headDim, mlp: m, blocks, spanOf } = lstDims(c, a);
  const ladder = d * s + s;
  const block = 2 * s + (s * 3 * s + 3 * s) + (s * s + s) + 2 * s + (s * m + m) + (m * s + s);
  const relPos = blocks.reduce((n, i) => n + 2 * (2 * spanOf(i) - 1) * headDim, 0);
  return ladder + blocks.length * (ladder + 1 + block) + relPos + (s * d + d);
}
