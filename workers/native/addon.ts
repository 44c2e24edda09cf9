/**
 * Loads the native kernel addon (native/, built by `npm ci` through native/build.mjs).
 *
 * The addon works on the tfjs cpu backend's own Float32Arrays in place: GEMM through OpenBLAS
 * (found at run time) or its blocked fallback, im2col convolutions, depthwise loops.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { PointSamplingKernels } from '../../src/nodes/losses/point-sampling.ts';

export interface NativeInfo {
  readonly gemm: 'openblas' | 'blocked';
  readonly description: string;
  readonly threads: number;
}

/** The kernels, and the set loss's point-sampling loops (PointSamplingKernels). */
export interface NativeAddon extends PointSamplingKernels {
  info(): NativeInfo;
  /** 'blocked' runs the fallback GEMM even where OpenBLAS loaded (for comparisons); 'auto' undoes it. */
  setGemm(gemm: 'blocked' | 'auto'): NativeInfo;
  batchMatMul(a: Float32Array, aOffsets: Float64Array, b: Float32Array, bOffsets: Float64Array, out: Float32Array, m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): void;
  /** op 0: forward(x, filter) -> y; 1: backprop input(dy, filter) -> dx; 2: backprop filter(x, dy) -> dfilter. */
  conv2d(op: 0 | 1 | 2, geometry: Int32Array, first: Float32Array, second: Float32Array, out: Float32Array): void;
  depthwiseConv2d(op: 0 | 1 | 2, geometry: Int32Array, first: Float32Array, second: Float32Array, out: Float32Array): void;
  /** out = a op b over `shape`, with per-dimension element strides (0 where an input broadcasts). */
  binary(op: number, shape: Int32Array, a: Float32Array, aStrides: Int32Array, b: Float32Array, bStrides: Int32Array, out: Float32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** x viewed as [outer, reduced, inner] -> out [outer, inner]. */
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, reduced: number, inner: number): void;
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  gelu(x: Float32Array, out: Float32Array): void;
  geluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, rows: number, cols: number, epsilon: number): void;
  layerNormGrad(x: Float32Array, gamma: Float32Array, dy: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, rows: number, cols: number, epsilon: number): void;
  softmaxGrad(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  slice(x: Float32Array, out: Float32Array, shape: Int32Array, begin: Int32Array, size: Int32Array): void;
  pad(x: Float32Array, out: Float32Array, shape: Int32Array, before: Int32Array, after: Int32Array, value: number): void;
}

export type AddonLoad = { readonly ok: true; readonly addon: NativeAddon } | { readonly ok: false; readonly reason: string };

const buildDir = fileURLToPath(new URL('../../native/build/', import.meta.url));

let cached: AddonLoad | undefined;

/** The addon of this checkout, loaded once. */
export function loadAddon(): AddonLoad {
  return (cached ??= loadAddonFrom(buildDir));
}

/** Loads `<dir>/Release/samflow_kernels.node`, or says why not (the build's failure.txt, if any). */
export function loadAddonFrom(dir: string): AddonLoad {
  const path = `${dir}Release/samflow_kernels.node`;
  if (!existsSync(path)) {
    const failure = `${dir}failure.txt`;
    const why = existsSync(failure) ? readFileSync(failure, 'utf8').split('\n')[0] : 'it was never built (run `npm run build:native`)';
    return { ok: false, reason: `native kernels are not built: ${why}` };
  }
  try {
    return { ok: true, addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (error) {
    return { ok: false, reason: `native kernels failed to load from ${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
}
