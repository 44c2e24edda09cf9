/**
 * SAM's parameter tree: one tensor per official state-dict key (`image_encoder.blocks.0.attn.qkv.weight`),
 * held in TensorFlow.js layout so the forward pass needs no per-call transposes:
 * linear weights [in, out], convolution filters [kh, kw, in, out], transposed-convolution
 * weights [in, kh, kw, out]. `toTfLayout`/`toTorchLayout` convert at load and save time.
 */
import * as tf from '@tensorflow/tfjs';
import { gridSize, type SamConfig } from './config.ts';

/**
 * Where adapters hook into the forward pass. Each hook gets the module's parameter prefix
 * (`image_encoder.blocks.3.attn.qkv`), its input and its output, and returns the output to use.
 * Hooks compose in the order they were added.
 */
export interface SamHooks {
  readonly linear: ((name: string, input: tf.Tensor, output: tf.Tensor) => tf.Tensor)[];
  readonly norm: ((name: string, input: tf.Tensor, output: tf.Tensor) => tf.Tensor)[];
  /** Extra key/value tokens [P, C] for an encoder attention module (VPT), shared by all its windows. */
  readonly attentionPrompts: ((name: string) => tf.Tensor | undefined)[];
  /**
   * Additions to encoder block inputs (SAM-Adapter): called once per encoder pass with the input
   * images and the patch embedding (before pos_embed); the function it returns gives block i's
   * addition [B, g, g, C], or undefined.
   */
  blockInputs?: ((images: tf.Tensor4D, patches: tf.Tensor4D) => (block: number) => tf.Tensor | undefined)[];
  /**
   * Wrappers of encoder block i (LST runs the frozen blocks off the gradient tape and taps their
   * outputs): each gets the block input and the block as wrapped so far, the first added innermost.
   */
  blockWrappers?: ((block: number, x: tf.Tensor4D, run: (x: tf.Tensor4D) => tf.Tensor4D) => tf.Tensor4D)[];
  /** Replaces the last block's output [B, g, g, encoder_embed_dim] before the neck (LST's side network). */
  neckInput?: ((x: tf.Tensor4D) => tf.Tensor4D)[];
}

/** The tree, plus the hooks of the adapters injected into it (none for plain SAM). */
export type SamParams = Map<string, tf.Tensor> & { hooks?: SamHooks };

/** Every official key with its PyTorch shape, for a config. */
export function officialShapes(c: SamConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const d = c.encoder_embed_dim;
  const e = c.prompt_embed_dim;
  const grid = gridSize(c);
  const headDim = d / c.encoder_num_heads;
  const mlp = Math.round(d * c.mlp_ratio);
  const linear = (name: string, inDim: number, outDim: number, bias = true) => {
    s.set(`${name}.weight`, [outDim, inDim]);
    if (bias) s.set(`${name}.bias`, [outDim]);
  };
  const norm = (name: string, dim: number) => {
    s.set(`${name}.weight`, [dim]);
    s.set(`${name}.bias`, [dim]);
  };

  s.set('image_encoder.patch_embed.proj.weight', [d, 3, c.patch_size, c.patch_size]);
  s.set('image_encoder.patch_embed.proj.bias', [d]);
  s.set('image_encoder.pos_embed', [1, grid, grid, d]);
  for (let i = 0; i < c.encoder_depth; i++) {
    const p = `image_encoder.blocks.${i}`;
    const size = c.encoder_global_attn_indexes.includes(i) ? grid : c.window_size;
    norm(`${p}.norm1`, d);
    linear(`${p}.attn.qkv`, d, 3 * d);
    linear(`${p}.attn.proj`, d, d);
    s.set(`${p}.attn.rel_pos_h`, [2 * size - 1, headDim]);
    s.set(`${p}.attn.rel_pos_w`, [2 * size - 1, headDim]);
    norm(`${p}.norm2`, d);
    linear(`${p}.mlp.lin1`, d, mlp);
    linear(`${p}.mlp.lin2`, mlp, d);
  }
  s.set('image_encoder.neck.0.weight', [e, d, 1, 1]);
  norm('image_encoder.neck.1', e);
  s.set('image_encoder.neck.2.weight', [e, e, 3, 3]);
  norm('image_encoder.neck.3', e);

  s.set('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix', [2, e / 2]);
  for (let i = 0; i < 4; i++) s.set(`prompt_encoder.point_embeddings.${i}.weight`, [1, e]);
  s.set('prompt_encoder.not_a_point_embed.weight', [1, e]);
  const m = c.mask_in_chans;
  s.set('prompt_encoder.mask_downscaling.0.weight', [m / 4, 1, 2, 2]);
  s.set('prompt_encoder.mask_downscaling.0.bias', [m / 4]);
  norm('prompt_encoder.mask_downscaling.1', m / 4);
  s.set('prompt_encoder.mask_downscaling.3.weight', [m, m / 4, 2, 2]);
  s.set('prompt_encoder.mask_downscaling.3.bias', [m]);
  norm('prompt_encoder.mask_downscaling.4', m);
  s.set('prompt_encoder.mask_downscaling.6.weight', [e, m, 1, 1]);
  s.set('prompt_encoder.mask_downscaling.6.bias', [e]);
  s.set('prompt_encoder.no_mask_embed.weight', [1, e]);

  const tokens = c.num_multimask_outputs + 1;
  s.set('mask_decoder.iou_token.weight', [1, e]);
  s.set('mask_decoder.mask_tokens.weight', [tokens, e]);
  const attention = (name: string, downsample: number) => {
    const inner = e / downsample;
    linear(`${name}.q_proj`, e, inner);
    linear(`${name}.k_proj`, e, inner);
    linear(`${name}.v_proj`, e, inner);
    linear(`${name}.out_proj`, inner, e);
  };
  for (let i = 0; i < c.decoder_depth; i++) {
    const p = `mask_decoder.transformer.layers.${i}`;
    attention(`${p}.self_attn`, 1);
    norm(`${p}.norm1`, e);
    attention(`${p}.cross_attn_token_to_image`, 2);
    norm(`${p}.norm2`, e);
    linear(`${p}.mlp.lin1`, e, c.decoder_mlp_dim);
    linear(`${p}.mlp.lin2`, c.decoder_mlp_dim, e);
    norm(`${p}.norm3`, e);
    norm(`${p}.norm4`, e);
    attention(`${p}.cross_attn_image_to_token`, 2);
  }
  attention('mask_decoder.transformer.final_attn_token_to_image', 2);
  norm('mask_decoder.transformer.norm_final_attn', e);
  s.set('mask_decoder.output_upscaling.0.weight', [e, e / 4, 2, 2]);
  s.set('mask_decoder.output_upscaling.0.bias', [e / 4]);
  norm('mask_decoder.output_upscaling.1', e / 4);
  s.set('mask_decoder.output_upscaling.3.weight', [e / 4, e / 8, 2, 2]);
  s.set('mask_decoder.output_upscaling.3.bias', [e / 8]);
  for (let k = 0; k < tokens; k++) {
    const dims = [e, e, e, e / 8];
    for (let j = 0; j < 3; j++) linear(`mask_decoder.output_hypernetworks_mlps.${k}.layers.${j}`, dims[j]!, dims[j + 1]!);
  }
  const iouDims = [e, ...Array<number>(c.iou_head_depth - 1).fill(c.iou_head_hidden_dim), tokens];
  for (let j = 0; j < c.iou_head_depth; j++) linear(`mask_decoder.iou_prediction_head.layers.${j}`, iouDims[j]!, iouDims[j + 1]!);
  return s;
}

const EMBEDDING = /(point_embeddings\.\d+|not_a_point_embed|no_mask_embed|iou_token|mask_tokens)\.weight$/;

/** A linear layer's weight: rank 2 and not an embedding table. */
export function isLinearWeight(key: string, rank: number): boolean {
  return rank === 2 && key.endsWith('.weight') && !EMBEDDING.test(key);
}
const TRANSPOSED_CONV = /output_upscaling\.(0|3)\.weight$/;

/** The permutation from PyTorch layout to ours for a key of a given rank (undefined: same layout). */
function permutationOf(key: string, rank: number): number[] | undefined {
  if (rank === 4 && key.endsWith('.weight')) return TRANSPOSED_CONV.test(key) ? [0, 2, 3, 1] : [2, 3, 1, 0];
  if (isLinearWeight(key, rank)) return [1, 0];
  return undefined;
}

/** The shape a key has in our layout, given its PyTorch shape. */
export function tfShape(key: string, torchShape: readonly number[]): number[] {
  const perm = permutationOf(key, torchShape.length);
  return perm ? perm.map((i) => torchShape[i]!) : [...torchShape];
}

/** Converts a tensor in PyTorch layout to ours; disposes the input when it had to permute. */
export function toTfLayout(key: string, tensor: tf.Tensor): tf.Tensor {
  const perm = permutationOf(key, tensor.rank);
  if (!perm) return tensor;
  const out = tf.transpose(tensor, perm);
  tensor.dispose();
  return out;
}

/** Converts one of our tensors back to PyTorch layout (a new tensor; the input is kept). */
export function toTorchLayout(key: string, tensor: tf.Tensor): tf.Tensor {
  const perm = permutationOf(key, tensor.rank);
  if (!perm) return tensor.clone();
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tf.transpose(tensor, inverse);
}

/**
 * Random parameters for any config, seeded: PyTorch's default initialisations (uniform ±1/√fan_in
 * for linear and conv weights and biases, ones and zeros for norms, N(0, 1) for embeddings and the
 * Fourier matrix, zeros for position embeddings).
 */
export function randomSamParams(c: SamConfig, seed = 0): SamParams {
  const params: SamParams = new Map();
  const shapes = officialShapes(c);
  let n = 0;
  for (const [key, shape] of shapes) {
    const s = seed * 100_003 + n++;
    const isNorm = /(norm\w*|neck\.[13]|output_upscaling\.1|mask_downscaling\.[14])\.(weight|bias)$/.test(key) && shape.length === 1;
    let t: tf.Tensor;
    if (isNorm) t = key.endsWith('weight') ? tf.ones(shape) : tf.zeros(shape);
    else if (EMBEDDING.test(key) || key.endsWith('positional_encoding_gaussian_matrix')) t = tf.randomNormal(shape, 0, 1, 'float32', s);
    else if (key.endsWith('pos_embed') || /rel_pos_[hw]$/.test(key)) t = tf.zeros(shape);
    else {
      // PyTorch takes fan_in from dim 1 times the kernel area (for transposed convs too).
      const weightShape = key.endsWith('.bias') ? shapes.get(key.replace(/bias$/, 'weight'))! : shape;
      const fanIn = weightShape.length === 4 ? weightShape[1]! * weightShape[2]! * weightShape[3]! : weightShape[1]!;
      const bound = 1 / Math.sqrt(fanIn);
      t = tf.randomUniform(shape, -bound, bound, 'float32', s);
    }
    params.set(key, toTfLayout(key, t));
  }
  return params;
}

export function disposeParams(params: SamParams): void {
  for (const t of params.values()) t.dispose();
  params.clear();
}
