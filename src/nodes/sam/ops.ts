/**
 * The small pieces SAM is built from (segment_anything/modeling/common.py and friends), written
 * with TensorFlow.js ops that have gradients on every backend: matMuls stay rank 2 with no
 * transpose flags (the fast path on wasm), and stride-k "patch" convolutions and the k2 s2
 * transposed convolutions are exact reshapes around a matMul, so no conv filter gradient is needed.
 */
import * as tf from '@tensorflow/tfjs';
import { layerNorm as fusedLayerNorm } from '../tensor/fused.ts';
import type { SamParams } from './params.ts';

export function param(params: SamParams, key: string): tf.Tensor {
  const t = params.get(key);
  if (!t) throw new Error(`SAM parameter '${key}' is missing`);
  return t;
}

/** x[..., in] @ W[in, out] + b, flattened to rank 2 for the matMul. */
export function linear(x: tf.Tensor, params: SamParams, name: string): tf.Tensor {
  const w = param(params, `${name}.weight`);
  const b = params.get(`${name}.bias`);
  const shape = x.shape;
  const inDim = shape[shape.length - 1]!;
  const y = tf.matMul(x.reshape([-1, inDim]), w);
  const out = (b ? tf.add(y, b) : y).reshape([...shape.slice(0, -1), w.shape[1]!]);
  return applyHooks(params.hooks?.linear, name, x, out);
}

function applyHooks(
  hooks: readonly ((name: string, input: tf.Tensor, output: tf.Tensor) => tf.Tensor)[] | undefined,
  name: string,
  input: tf.Tensor,
  output: tf.Tensor,
): tf.Tensor {
  let out = output;
  for (const hook of hooks ?? []) out = hook(name, input, out);
  return out;
}

/** LayerNorm over the last axis (NHWC LayerNorm2d is the same thing). */
export function layerNorm(x: tf.Tensor, params: SamParams, name: string, eps: number): tf.Tensor {
  const out = fusedLayerNorm(x, param(params, `${name}.weight`), param(params, `${name}.bias`), eps);
  return applyHooks(params.hooks?.norm, name, x, out);
}

/** SAM's MLP: linear layers with ReLU between them (mask_decoder.MLP). */
export function mlp(x: tf.Tensor, params: SamParams, name: string, layers: number): tf.Tensor {
  let y = x;
  for (let j = 0; j < layers; j++) {
    y = linear(y, params, `${name}.layers.${j}`);
    if (j < layers - 1) y = tf.relu(y);
  }
  return y;
}

/**
 * A convolution whose stride equals its kernel (patch embedding, mask downscaling): cut the
 * NHWC input into k×k patches and apply the filter [k, k, in, out] as one matMul.
 */
export function patchConv(x: tf.Tensor4D, filter: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor4D {
  const [k, , inC, outC] = filter.shape as [number, number, number, number];
  const [b, h, w, c] = x.shape;
  if (c !== inC || h % k !== 0 || w % k !== 0) {
    throw new Error(`patchConv: input [${x.shape.join(', ')}] does not fit a ${k}x${k} stride-${k} filter over ${inC} channels`);
  }
  const gh = h / k;
  const gw = w / k;
  const patches = x.reshape([b, gh, k, gw, k, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([b * gh * gw, k * k * c]);
  let y = tf.matMul(patches, filter.reshape([k * k * inC, outC]));
  if (bias) y = tf.add(y, bias);
  return y.reshape([b, gh, gw, outC]);
}

/** A 1×1 convolution (filter [1, 1, in, out]) as a matMul over channels. */
export function conv1x1(x: tf.Tensor4D, filter: tf.Tensor, bias?: tf.Tensor): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const outC = filter.shape[3]!;
  let y = tf.matMul(x.reshape([b * h * w, c]), filter.reshape([c, outC]));
  if (bias) y = tf.add(y, bias);
  return y.reshape([b, h, w, outC]);
}

/** ConvTranspose2d with kernel 2 and stride 2 (no overlap): weight [in, 2, 2, out]. */
export function convTranspose2x2(x: tf.Tensor4D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const outC = weight.shape[3]!;
  const y = tf.add(tf.matMul(x.reshape([b * h * w, c]), weight.reshape([c, 4 * outC])).reshape([b, h, w, 2, 2, outC]), bias);
  return y.transpose([0, 1, 3, 2, 4, 5]).reshape([b, 2 * h, 2 * w, outC]);
}

/**
 * Batched matMul a [B, M, K] @ b [B, K, N] without transpose flags. On wasm, batched and
 * transposed matMuls miss XNNPACK's fast path (0.7 against 25 GFLOP/s measured here), so there
 * large entries run as one rank-2 matMul each; elsewhere it is the plain batched kernel.
 */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [batch, m, k] = a.shape;
  // Below ~1M multiply-adds per entry, or over many entries (windows), slicing costs more than the
  // slow kernel does (wasm's Slice took 23 s of a vit_b windowed block with 300 entries).
  if (tf.getBackend() !== 'wasm' || batch === 1 || batch > 16 || m * k * b.shape[2] < 1 << 20) {
    return batch === 1 ? (tf.matMul(a.reshape(a.shape.slice(1) as [number, number]), b.reshape(b.shape.slice(1) as [number, number])).expandDims(0) as tf.Tensor3D) : tf.matMul(a, b);
  }
  // Slices, not tf.unstack: wasm's Unpack kernel is slower still.
  const n = b.shape[2];
  const products = Array.from({ length: batch }, (_, i) =>
    tf.matMul(tf.slice(a, [i, 0, 0], [1, m, k]).reshape([m, k]), tf.slice(b, [i, 0, 0], [1, k, n]).reshape([k, n])),
  );
  return tf.stack(products) as tf.Tensor3D;
}

/** Softmax attention of q [B, Tq, d] over k, v [B, Tk, d], scaled by 1/√d, with an optional bias added to the logits. */
export function attend(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, logitBias?: tf.Tensor): tf.Tensor3D {
  const scale = 1 / Math.sqrt(q.shape[2]);
  let logits: tf.Tensor = bmm(tf.mul(q, scale) as tf.Tensor3D, k.transpose([0, 2, 1]));
  if (logitBias) logits = tf.add(logits, logitBias);
  return bmm(tf.softmax(logits) as tf.Tensor3D, v);
}
