/**
 * Injects LST: wraps every encoder block so that the frozen backbone runs off the gradient tape
 * and its outputs are recorded, and replaces the last block's output, the neck's input, by the
 * side network's features up-projected to encoder_embed_dim. The frozen neck and the mask
 * decoder then see only side features: the neck is backpropagated (it sits between the side
 * network and the decoder), the backbone blocks and the patch embedding never are.
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { lstDims } from './dims.ts';
import { detach, offTape } from './off-tape.ts';
import { prunedSideBlocks, randomSideBlocks } from './prune.ts';
import { createSideNetwork } from './side-network.ts';

export function injectLst(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const dims = lstDims(model.config, a);
  const hooks = hooksOf(model);
  // The recorded outputs must be the blocks' results as the encoder keeps them; another wrapper
  // or neck hook (a second method on the same model) could hand LST tensors a scope disposes.
  if (hooks.blockWrappers?.length || hooks.neckInput?.length) throw new Error('adapter lst: the encoder already has block wrappers or a neck hook; LST must be the only method that wraps encoder blocks');
  const inits = a.sideInit === 'pruned' ? prunedSideBlocks(model.params, dims) : randomSideBlocks(dims, a.seed);
  const side = createSideNetwork(dims, inits, { temperature: a.ladderTemperature, gateInit: a.ladderGateInit, seed: a.seed });

  let embedding: tf.Tensor4D | undefined;
  const outputs = new Map<number, tf.Tensor4D>();
  const wanted = new Set(dims.blocks);
  (hooks.blockWrappers ??= []).push((i, x, run) => {
    if (i === 0) {
      outputs.clear();
      // Made inside block 0's scope, so kept until the neck hook has used it (a failed pass's is freed here).
      embedding?.dispose();
      embedding = tf.keep(detach(x));
    }
    const out = offTape(run)(x);
    if (wanted.has(i)) outputs.set(i, out);
    return out;
  });
  (hooks.neckInput ??= []).push(() => {
    if (!embedding) throw new Error('adapter lst: the neck hook ran before the encoder blocks');
    const features = side.forward(embedding, outputs);
    // Under a tape the ops that need it have saved their own copies.
    embedding.dispose();
    embedding = undefined;
    outputs.clear();
    return features;
  });
  return {
    method: 'lst',
    weights: side.weights,
    dispose: () => {
      for (const w of side.weights.values()) w.dispose();
    },
  };
}
