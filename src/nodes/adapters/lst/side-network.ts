/**
 * LST's ladder side network (Sung et al. 2022), as the public code builds it for T5 and here for
 * SAM's ViT encoder:
 *
 *   z = down₀(e)                                  e: the patch embedding (+ pos_embed)
 *   for each side block i:  g = σ(αᵢ / T)
 *                           z = side_blockᵢ(g · z + (1 − g) · downᵢ(hᵢ))     hᵢ: backbone block i's output
 *   features = up(z)                              [B, g, g, encoder_embed_dim]
 *
 * The ladders downᵢ and up are linears with biases, N(0, 0.01) / zeros as the code initialises
 * them; αᵢ starts at `ladderGateInit` (the code's gate_alpha, 0: half and half) with temperature
 * `ladderTemperature` (gate_T, 0.1). The gate mixes before the side block (the code's default,
 * add_residual_after = False). A side block is a SAM encoder block at width s = d / r with the
 * backbone block's heads, window and rel-pos span, pruned from it or fresh (see prune.ts). The
 * hᵢ are constants: the backbone runs off the tape, so only this network is backpropagated.
 */
import * as tf from '@tensorflow/tfjs';
import { encoderBlock } from '../../sam/image-encoder.ts';
import { linear } from '../../sam/ops.ts';
import type { SamParams } from '../../sam/params.ts';
import type { LstDims } from './dims.ts';
import type { SideBlockInit } from './prune.ts';

export const LST_PREFIX = 'image_encoder.lst';

export interface SideNetwork {
  /** Every trainable tensor, by checkpoint key (`image_encoder.lst.side_blocks.3.attn.qkv.weight`). */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /**
   * The side features from the patch embedding and the backbone block outputs (`outputs[i]` for
   * each side block i), [B, g, g, encoder_embed_dim].
   */
  forward(embedding: tf.Tensor4D, outputs: ReadonlyMap<number, tf.Tensor4D>): tf.Tensor4D;
}

export interface SideNetworkOptions {
  readonly temperature: number;
  readonly gateInit: number;
  readonly seed: number;
}

export function createSideNetwork(dims: LstDims, blocks: Map<number, SideBlockInit>, o: SideNetworkOptions): SideNetwork {
  const { embed: d, side: s } = dims;
  const weights = new Map<string, tf.Variable>();
  // The side network's own parameter tree, without hooks: other adapters never reach into it.
  const tree: SamParams = new Map();
  const add = (key: string, value: tf.Tensor) => {
    const v = tf.variable(value, true);
    value.dispose();
    weights.set(key, v);
    tree.set(key, v);
  };
  let n = 0;
  const projection = (name: string, inDim: number, outDim: number) => {
    add(`${name}.weight`, tf.randomNormal([inDim, outDim], 0, 0.01, 'float32', o.seed * 7919 + n++));
    add(`${name}.bias`, tf.zeros([outDim]));
  };
  projection(`${LST_PREFIX}.first_downsample`, d, s);
  for (const i of dims.blocks) {
    projection(`${LST_PREFIX}.downsamples.${i}`, d, s);
    add(`${LST_PREFIX}.gates.${i}`, tf.fill([1], o.gateInit));
    const init = blocks.get(i);
    if (!init) throw new Error(`LST: no initial weights for side block ${i}`);
    for (const [suffix, value] of init) add(`${LST_PREFIX}.side_blocks.${i}.${suffix}`, value);
  }
  projection(`${LST_PREFIX}.final_upsample`, s, d);

  return {
    weights,
    forward: (embedding, outputs) => {
      let z = linear(embedding, tree, `${LST_PREFIX}.first_downsample`) as tf.Tensor4D;
      for (const i of dims.blocks) {
        const h = outputs.get(i);
        if (!h) throw new Error(`LST: the output of encoder block ${i} was not recorded`);
        const gate = tf.sigmoid(tf.div(weights.get(`${LST_PREFIX}.gates.${i}`)!, o.temperature));
        const ladder = linear(h, tree, `${LST_PREFIX}.downsamples.${i}`);
        const mixed = tf.add(tf.mul(gate, z), tf.mul(tf.sub(1, gate), ladder)) as tf.Tensor4D;
        z = encoderBlock(mixed, tree, `${LST_PREFIX}.side_blocks.${i}`, dims.heads, dims.windowOf(i));
      }
      return linear(z, tree, `${LST_PREFIX}.final_upsample`) as tf.Tensor4D;
    },
  };
}
