/**
 * SAM's mask decoder (segment_anything/modeling/mask_decoder.py): IoU and mask tokens run
 * through the two-way transformer with the prompt tokens; the image tokens are upscaled 4×
 * and each mask token's hypernetwork MLP turns them into that token's mask logits.
 *
 * It can run only the first k mask tokens: the official decoder built with k tokens and loaded
 * with the checkpoint's tokens and MLPs 0..k-1 (k = 1 is Conv-LoRA's binary decoder, whose
 * token attention sees the IoU token and one mask token). That is a different function from
 * running all tokens and keeping mask 0, since the tokens attend to each other.
 */
import * as tf from '@tensorflow/tfjs';
import { gridSize, type SamConfig } from './config.ts';
import { gelu } from '../tensor/fused.ts';
import { checkMaskTokens, firstMaskTokens, maskTokenCount } from './mask-tokens.ts';
import { bmm, convTranspose2x2, layerNorm, mlp, param } from './ops.ts';
import type { SamParams } from './params.ts';
import { twoWayTransformer } from './transformer.ts';

export interface MaskDecoderOutput {
  /** Logits of every mask token run, [B, maskTokens, 4·grid, 4·grid] (all: num_multimask_outputs + 1). */
  readonly masks: tf.Tensor4D;
  /** Predicted IoU of every mask token run, [B, maskTokens]: the IoU head's first outputs. */
  readonly iou: tf.Tensor2D;
  /** The two-way transformer's output for each mask token run, [B, maskTokens, C] (a class head reads these). */
  readonly tokens: tf.Tensor3D;
}

export interface MaskDecoderOptions {
  /** Every mask token through hypernetwork MLP 0 (the table's row count is the token count). */
  readonly sharedHypernetwork?: boolean;
}

/** The 4× upscaler: ConvTranspose k2 s2 → LayerNorm2d → GELU → ConvTranspose k2 s2 → GELU. */
export function upscaleEmbeddings(src: tf.Tensor4D, params: SamParams): tf.Tensor4D {
  const u = 'mask_decoder.output_upscaling';
  let x = convTranspose2x2(src, param(params, `${u}.0.weight`), param(params, `${u}.0.bias`));
  x = gelu(layerNorm(x, params, `${u}.1`, 1e-6)) as tf.Tensor4D;
  return gelu(convTranspose2x2(x, param(params, `${u}.3.weight`), param(params, `${u}.3.bias`))) as tf.Tensor4D;
}

/**
 * image embeddings [B or 1, g, g, C] and positional encoding [1, g, g, C], prompt embeddings
 * sparse [B, N, C] and dense [B, g, g, C] -> masks and IoU for the first `maskTokens` mask tokens
 * (default: all of them, SAM's decoder).
 */
export function maskDecoder(
  imageEmbeddings: tf.Tensor4D,
  imagePe: tf.Tensor4D,
  sparse: tf.Tensor3D,
  dense: tf.Tensor4D,
  params: SamParams,
  c: SamConfig,
  maskTokens = maskTokenCount(c),
  options: MaskDecoderOptions = {},
): MaskDecoderOutput {
  if (!options.sharedHypernetwork) checkMaskTokens(c, maskTokens, 'mask decoder');
  const e = c.prompt_embed_dim;
  const g = gridSize(c);
  const t = maskTokens;
  const b = sparse.shape[0];
  // Concatenate output tokens: [iou token, mask tokens] ahead of the prompt tokens.
  const outputTokens = tf.concat([param(params, 'mask_decoder.iou_token.weight'), firstMaskTokens(params, t)], 0);
  const sequence = tf.concat([tf.broadcastTo(outputTokens.expandDims(0), [b, 1 + t, e]), sparse], 1) as tf.Tensor3D;
  // One image embedding may serve several prompt sets.
  const embeddings = imageEmbeddings.shape[0] === b ? imageEmbeddings : tf.broadcastTo(imageEmbeddings, [b, g, g, e]);
  const src = tf.add(embeddings, dense).reshape([b, g * g, e]) as tf.Tensor3D;
  const pos = tf.broadcastTo(imagePe.reshape([1, g * g, e]), [b, g * g, e]) as tf.Tensor3D;
  const { queries, keys } = twoWayTransformer(src, pos, sequence, params, c);
  const iouTokenOut = tf.slice(queries, [0, 0, 0], [b, 1, e]).reshape([b, e]);
  // Upscale mask embeddings and predict masks using the mask tokens.
  const upscaled = upscaleEmbeddings(keys.reshape([b, g, g, e]) as tf.Tensor4D, params);
  const [, uh, uw, uc] = upscaled.shape;
  const maskTokenOut = tf.slice(queries, [0, 1, 0], [b, t, e]) as tf.Tensor3D;
  const hyper = (
    options.sharedHypernetwork
      ? mlp(maskTokenOut, params, 'mask_decoder.output_hypernetworks_mlps.0', 3)
      : tf.stack(
          Array.from({ length: t }, (_, i) =>
            mlp(tf.slice(queries, [0, 1 + i, 0], [b, 1, e]).reshape([b, e]), params, `mask_decoder.output_hypernetworks_mlps.${i}`, 3),
          ),
          1,
        )
  ) as tf.Tensor3D; // [B, t, C/8]
  const masks = bmm(hyper, upscaled.reshape([b, uh * uw, uc]).transpose([0, 2, 1])).reshape([b, t, uh, uw]) as tf.Tensor4D;
  // The IoU head keeps its official width (the rebuilt official decoder keeps it too); output i scores token i.
  const iouAll = mlp(iouTokenOut, params, 'mask_decoder.iou_prediction_head', c.iou_head_depth) as tf.Tensor2D;
  // A shared-hypernetwork decoder may run more tokens than the IoU head scores: its IoU is unused (frozen, as the spec says).
  const scored = Math.min(t, iouAll.shape[1]);
  const iou = scored === iouAll.shape[1] ? iouAll : tf.slice(iouAll, [0, 0], [b, scored]);
  return { masks, iou, tokens: maskTokenOut };
}

/** The official selection: tokens 1.. when multimask output is asked for, else token 0 alone. */
export function selectMasks(out: MaskDecoderOutput, multimask: boolean): MaskDecoderOutput {
  const [b, t, h, w] = out.masks.shape;
  if (multimask && t < 2) throw new Error(`multimask output takes mask tokens 1.., but the decoder ran ${t} mask token`);
  const [start, count] = multimask ? [1, t - 1] : [0, 1];
  return {
    masks: tf.slice(out.masks, [0, start, 0, 0], [b, count, h, w]),
    iou: tf.slice(out.iou, [0, start], [b, count]),
    tokens: tf.slice(out.tokens, [0, start, 0], [b, count, -1]),
  };
}
