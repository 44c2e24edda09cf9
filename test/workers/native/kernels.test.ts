/**
 * Every native kernel against the plain cpu backend's kernel on randomised shapes: values and
 * gradients. The same graph runs once on 'cpu' and once on 'native'; results are compared on
 * the host.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from '../../../workers/native/addon.ts';
import { NATIVE_BACKEND, registerNativeBackend } from '../../../workers/native/register.ts';
import { registerFastMatMulGradient } from '../../../workers/matmul-gradient.ts';

/** Deterministic integers in [lo, hi] and normal-ish floats, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    floats: (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1),
  };
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Runs fn on a backend with fresh tensors made from the same host arrays; returns host arrays. */
async function on(backend: string, inputs: { data: Float32Array; shape: number[] }[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
    const out = fn(...xs);
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  });
}

function expectClose(actual: { shape: number[]; data: Float32Array }[], expected: { shape: number[]; data: Float32Array }[], what: string, tolerance = 1e-4) {
  expect(actual.length, what).toBe(expected.length);
  for (const [i, a] of actual.entries()) {
    const e = expected[i]!;
    expect(a.shape, `${what} output ${i} shape`).toEqual(e.shape);
    let worst = 0;
    let scale = 1;
    for (let j = 0; j < a.data.length; j++) {
      if (Object.is(a.data[j], e.data[j]) || (Number.isNaN(a.data[j]!) && Number.isNaN(e.data[j]!))) continue;
      worst = Math.max(worst, Math.abs(a.data[j]! - e.data[j]!));
      if (Number.isFinite(e.data[j]!)) scale = Math.max(scale, Math.abs(e.data[j]!));
    }
    expect(worst / scale, `${what} output ${i}: max relative error`).toBeLessThan(tolerance);
  }
}

async function compare(what: string, inputs: { data: Float32Array; shape: number[] }[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], tolerance?: number) {
  const expected = await on('cpu', inputs, fn);
  const actual = await on(NATIVE_BACKEND, inputs, fn);
  expectClose(actual, expected, what, tolerance);
}

/** Gradients of sum(f(xs) · r) with respect to every input, r a fixed random tensor. */
function withGrads(fn: (...xs: tf.Tensor[]) => tf.Tensor, outShape: number[], seed: number) {
  const r = rng(seed).floats(size(outShape));
  return (...xs: tf.Tensor[]) => {
    const weights = tf.tensor(r, outShape);
    const g = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(fn(...ys), weights)));
    return [fn(...xs), ...g(xs)];
  };
}

beforeAll(() => {
  const load = loadAddon();
  if (!load.ok) throw new Error(load.reason);
  registerNativeBackend(load.addon);
  registerFastMatMulGradient();
});

describe('native BatchMatMul', () => {
  it('matches the cpu kernel on random shapes, transposes and batches, values and gradients', async () => {
    const r = rng(7);
    for (let c = 0; c < 24; c++) {
      const [m, k, n] = [r.int(1, 40), r.int(1, 40), r.int(1, 40)];
      const ta = r.pick([false, true]);
      const tb = r.pick([false, true]);
      const batch = r.pick([[], [3], [2, 3]]);
      // tfjs's cpu kernel broadcasts batches correctly only when one side is 1 or both are equal.
      const bBatch = batch.length === 0 ? [] : r.pick([batch, batch.map(() => 1), []]);
      const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
      const bShape = [...bBatch, ...(tb ? [n, k] : [k, n])];
      const inputs = [{ data: r.floats(size(aShape)), shape: aShape }, { data: r.floats(size(bShape)), shape: bShape }];
      const what = `case ${c}: [${aShape}]${ta ? 'ᵀ' : ''} x [${bShape}]${tb ? 'ᵀ' : ''}`;
      await compare(what, inputs, (a, b) => tf.matMul(a!, b!, ta, tb));
      await compare(`${what} gradients`, inputs, withGrads((a, b) => tf.matMul(a!, b!, ta, tb), [...batch, m, n], c));
    }
  });

  it('broadcasts batch dimensions entry by entry, as a loop of 2-D products says', async () => {
    const r = rng(11);
    const a = r.floats(2 * 1 * 3 * 4);
    const b = r.floats(1 * 5 * 4 * 2);
    await tf.setBackend(NATIVE_BACKEND);
    const y = tf.tidy(() => tf.matMul(tf.tensor(a, [2, 1, 3, 4]), tf.tensor(b, [5, 4, 2])).arraySync()) as number[][][][];
    expect([y.length, y[0]!.length, y[0]![0]!.length, y[0]![0]![0]!.length]).toEqual([2, 5, 3, 2]);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 5; j++)
        for (let p = 0; p < 3; p++)
          for (let q = 0; q < 2; q++) {
            let s = 0;
            for (let t = 0; t < 4; t++) s += a[i * 12 + p * 4 + t]! * b[j * 8 + t * 2 + q]!;
            expect(y[i]![j]![p]![q]!).toBeCloseTo(s, 5);
          }
  });

  it('gives zeros for an empty inner dimension and keeps int32 products exact', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    expect(tf.tidy(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2])).arraySync())).toEqual([[0, 0], [0, 0], [0, 0]]);
    expect(tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]], [1, 2], 'int32'), tf.tensor2d([[3], [4]], [2, 1], 'int32')).arraySync())).toEqual([[11]]);
  });

  it('runs the blocked fallback GEMM to the same values as OpenBLAS', async () => {
    const load = loadAddon();
    if (!load.ok) throw new Error(load.reason);
    const r = rng(3);
    const shapes = [[1, 1, 1], [7, 300, 5], [130, 257, 70], [600, 64, 33]];
    for (const [m, k, n] of shapes) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const aShape = ta ? [k!, m!] : [m!, k!];
        const bShape = tb ? [n!, k!] : [k!, n!];
        const inputs = [{ data: r.floats(size(aShape)), shape: aShape }, { data: r.floats(size(bShape)), shape: bShape }];
        const expected = await on('cpu', inputs, (a, b) => tf.matMul(a!, b!, ta, tb));
        load.addon.setGemm('blocked');
        try {
          expect(load.addon.info().gemm).toBe('blocked');
          expectClose(await on(NATIVE_BACKEND, inputs, (a, b) => tf.matMul(a!, b!, ta, tb)), expected, `blocked ${m}x${k}x${n} ${ta} ${tb}`);
        } finally {
          load.addon.setGemm('auto');
        }
      }
    }
  });
});

describe('native _FusedMatMul', () => {
  it('adds the bias and applies every activation like the cpu kernel, with gradients', async () => {
    const r = rng(5);
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'prelu', 'leakyrelu', 'sigmoid'] as const) {
      const [m, k, n] = [r.int(2, 20), r.int(2, 20), r.int(2, 20)];
      const inputs = [
        { data: r.floats(m * k), shape: [m, k] },
        { data: r.floats(k * n), shape: [k, n] },
        { data: r.floats(n), shape: [n] },
        { data: r.floats(n), shape: [n] },
      ];
      const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor, alpha: tf.Tensor) =>
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation, preluActivationWeights: alpha, leakyreluAlpha: 0.3 });
      await compare(`fused ${activation}`, inputs, (a, b, bias, alpha) => f(a!, b!, bias!, alpha!));
      // Gradients of relu6/prelu are not defined for fused kernels in tfjs; the others are.
      if (!['relu6', 'prelu', 'elu', 'leakyrelu', 'sigmoid'].includes(activation)) {
        await compare(`fused ${activation} gradients`, inputs.slice(0, 3), withGrads((a, b, bias) => f(a!, b!, bias!, tf.zeros([n])), [m, n], 9));
      }
    }
  });
});

/** A random NHWC convolution problem; depthwise filters are [fh, fw, in, multiplier]. */
function convCase(r: ReturnType<typeof rng>, depthwise: boolean, allowDilation: boolean) {
  const [batch, h, w, inC] = [r.int(1, 3), r.int(3, 14), r.int(3, 14), r.int(1, 7)];
  const [fh, fw] = [r.int(1, 4), r.int(1, 4)];
  const outC = depthwise ? r.int(1, 3) : r.int(1, 9);
  const dilation = allowDilation ? r.pick([1, 1, 2]) : 1;
  const stride = dilation > 1 ? 1 : r.pick([1, 1, 2, 3]);
  const pad = r.pick(['same', 'valid', 1, [[0, 0], [1, 0], [0, 2], [0, 0]]] as const);
  return { xShape: [batch, h, w, inC], fShape: [fh, fw, inC, outC], stride, dilation, pad: pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding };
}

describe('native Conv2D', () => {
  it('matches the cpu kernels on random geometry: forward, input and filter gradients', async () => {
    const r = rng(21);
    for (let c = 0; c < 20; c++) {
      const { xShape, fShape, stride, dilation, pad } = convCase(r, false, c % 2 === 0);
      const [fh, fw] = fShape;
      const tooSmall = pad === 'valid' && ((fh! - 1) * dilation + 1 > xShape[1]! || (fw! - 1) * dilation + 1 > xShape[2]!);
      if (tooSmall) continue;
      const inputs = [{ data: r.floats(size(xShape)), shape: xShape }, { data: r.floats(size(fShape)), shape: fShape }];
      const conv = (x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad, 'NHWC', dilation);
      const what = `case ${c}: x [${xShape}] f [${fShape}] stride ${stride} dilation ${dilation} pad ${JSON.stringify(pad)}`;
      await compare(what, inputs, (x, f) => conv(x!, f!));
      if (dilation === 1) {
        const outShape = (await on('cpu', inputs, (x, f) => conv(x!, f!)))[0]!.shape;
        await compare(`${what} gradients`, inputs, withGrads((x, f) => conv(x!, f!), outShape, c));
      }
    }
  });

  it('runs conv2dTranspose and fused conv2d (bias, relu) like the cpu kernels', async () => {
    const r = rng(4);
    const x = { data: r.floats(2 * 5 * 6 * 3), shape: [2, 5, 6, 3] };
    const f = { data: r.floats(3 * 3 * 4 * 3), shape: [3, 3, 4, 3] };
    const bias = { data: r.floats(4), shape: [4] };
    const transpose = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 10, 12, 4], 2, 'same');
    await compare('conv2dTranspose', [x, f], (a, b) => transpose(a!, b!));
    await compare('conv2dTranspose gradients', [x, f], withGrads((a, b) => transpose(a!, b!), [2, 10, 12, 4], 1));
    const filter = { data: r.floats(3 * 3 * 3 * 4), shape: [3, 3, 3, 4] };
    const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 1, pad: 'same', bias: c, activation: 'relu' });
    await compare('fused conv2d', [x, filter, bias], (a, b, c) => fused(a!, b!, c!));
    await compare('fused conv2d gradients', [x, filter, bias], withGrads((a, b, c) => fused(a!, b!, c!), [2, 5, 6, 4], 2));
  });

  it('hands NCHW convolutions to the cpu kernel', async () => {
    const r = rng(8);
    const inputs = [{ data: r.floats(1 * 3 * 6 * 5), shape: [1, 3, 6, 5] }, { data: r.floats(2 * 2 * 3 * 4), shape: [2, 2, 3, 4] }];
    // tfjs's cpu Conv2D supports NCHW; the native kernel must not read it as NHWC.
    await compare('NCHW conv2d', inputs, (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NCHW'));
  });
});

describe('native depthwise Conv2D', () => {
  it('matches the cpu kernels on random geometry and multipliers, values and gradients', async () => {
    const r = rng(33);
    for (let c = 0; c < 16; c++) {
      const { xShape, fShape, stride, dilation, pad } = convCase(r, true, c % 2 === 0);
      if (typeof pad !== 'string' && typeof pad !== 'number') continue; // depthwise takes same/valid/number padding
      const [fh, fw] = fShape;
      if (pad === 'valid' && ((fh! - 1) * dilation + 1 > xShape[1]! || (fw! - 1) * dilation + 1 > xShape[2]!)) continue;
      const inputs = [{ data: r.floats(size(xShape)), shape: xShape }, { data: r.floats(size(fShape)), shape: fShape }];
      const conv = (x: tf.Tensor, f: tf.Tensor) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad, 'NHWC', dilation);
      const what = `case ${c}: x [${xShape}] f [${fShape}] stride ${stride} dilation ${dilation} pad ${pad}`;
      await compare(what, inputs, (x, f) => conv(x!, f!));
      if (dilation === 1) {
        const outShape = (await on('cpu', inputs, (x, f) => conv(x!, f!)))[0]!.shape;
        await compare(`${what} gradients`, inputs, withGrads((x, f) => conv(x!, f!), outShape, c));
      }
    }
  });
});

describe('native convolution backprops with dilation (tfjs has no gradient to compare with)', () => {
  // The backprops are the adjoints of the forward map: <conv(x, f), dy> = <x, dx(dy, f)> = <f, df(x, dy)>.
  it('are the adjoints of the dilated forward convolution, plain and depthwise', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const r = rng(44);
    for (const depthwise of [false, true]) {
      for (let c = 0; c < 6; c++) {
        const [batch, h, w, inC, mult] = [r.int(1, 2), r.int(6, 12), r.int(6, 12), r.int(1, 5), r.int(1, 3)];
        const outC = depthwise ? inC * mult : r.int(1, 6);
        const fShape: [number, number, number, number] = [r.int(2, 3), r.int(2, 3), inC, depthwise ? mult : outC];
        const pad = r.pick(['same', 'valid'] as const);
        const dilations: [number, number] = [2, r.int(1, 3)];
        tf.tidy(() => {
          const x = tf.tensor(r.floats(batch * h * w * inC), [batch, h, w, inC]) as tf.Tensor4D;
          const f = tf.tensor(r.floats(size(fShape)), fShape) as tf.Tensor4D;
          const y = depthwise ? tf.depthwiseConv2d(x, f, 1, pad, 'NHWC', dilations) : tf.conv2d(x, f, 1, pad, 'NHWC', dilations);
          const dy = tf.tensor(r.floats(size(y.shape)), y.shape);
          const attrs = { strides: [1, 1], pad, dilations, dataFormat: 'NHWC', dimRoundingMode: undefined };
          const [inputName, filterName] = depthwise
            ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']
            : ['Conv2DBackpropInput', 'Conv2DBackpropFilter'];
          const dx = tf.engine().runKernel(inputName, { dy, filter: f }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor;
          const df = tf.engine().runKernel(filterName, { x, dy }, { ...attrs, filterShape: fShape } as never) as tf.Tensor;
          const lhs = tf.sum(tf.mul(y, dy)).dataSync()[0]!;
          const what = `${depthwise ? 'depthwise' : 'conv2d'} case ${c} x [${x.shape}] f [${fShape}] dilations ${dilations} ${pad}`;
          expect(tf.sum(tf.mul(x, dx)).dataSync()[0]!, `${what}: input adjoint`).toBeCloseTo(lhs, 3);
          expect(tf.sum(tf.mul(f, df)).dataSync()[0]!, `${what}: filter adjoint`).toBeCloseTo(lhs, 3);
        });
      }
    }
  });
});

describe('native elementwise kernels', () => {
  const shapes = (r: ReturnType<typeof rng>) => {
    // Right-aligned broadcasting: b drops leading dims and sets some of the rest to 1.
    const rank = r.int(1, 5);
    const a = Array.from({ length: rank }, () => r.int(1, 6));
    const b = a.slice(r.int(0, rank - 1)).map((d) => (r.int(0, 2) === 0 ? 1 : d));
    return r.int(0, 1) === 0 ? [a, b] : [b, a];
  };

  it('broadcasting binary ops match the cpu kernels, values and gradients', async () => {
    const r = rng(51);
    const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
      ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div],
      ['maximum', tf.maximum], ['minimum', tf.minimum], ['squaredDifference', tf.squaredDifference],
    ];
    for (let c = 0; c < 28; c++) {
      const [name, op] = ops[c % ops.length]!;
      const [aShape, bShape] = shapes(r);
      // Keep divisors away from 0 so both backends see the same finite values.
      const b = name === 'div' ? r.floats(size(bShape!)).map((v) => (v < 0 ? v - 0.5 : v + 0.5)) : r.floats(size(bShape!));
      const inputs = [{ data: r.floats(size(aShape!)), shape: aShape! }, { data: b, shape: bShape! }];
      const what = `${name} [${aShape}] [${bShape}]`;
      await compare(what, inputs, (x, y) => op(x!, y!));
      const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape!, bShape!);
      // tfjs's Maximum/Minimum/SquaredDifference gradients do not sum over broadcast dimensions (on any backend).
      if (['maximum', 'minimum', 'squaredDifference'].includes(name) && aShape!.join() !== bShape!.join()) continue;
      await compare(`${what} gradients`, inputs, withGrads((x, y) => op(x!, y!), outShape, c));
    }
  });

  it('unary maths, softmax, reductions, transposes, slices and padding match the cpu kernels', async () => {
    const r = rng(52);
    const x = { data: r.floats(3 * 4 * 5 * 6), shape: [3, 4, 5, 6] };
    const positive = { data: x.data.map((v) => Math.abs(v) + 0.1), shape: x.shape };
    for (const [name, op] of [['exp', tf.exp], ['neg', tf.neg], ['square', tf.square], ['erf', tf.erf], ['tanh', tf.tanh], ['sigmoid', tf.sigmoid], ['relu', tf.relu], ['abs', tf.abs]] as const) {
      await compare(name, [x], (t) => op(t!));
      await compare(`${name} gradient`, [x], withGrads((t) => op(t!), x.shape, 1));
    }
    for (const [name, op] of [['log', tf.log], ['sqrt', tf.sqrt], ['rsqrt', tf.rsqrt], ['reciprocal', tf.reciprocal]] as const) {
      await compare(name, [positive], (t) => op(t!));
    }
    await compare('softmax', [x], (t) => tf.softmax(t!));
    await compare('softmax gradient', [x], withGrads((t) => tf.softmax(t!), x.shape, 2));
    for (const axes of [null, 0, 3, [1, 2], [0, 2], [0, 1, 3], [-1]] as const) {
      for (const keepDims of [false, true]) {
        const what = `axes ${JSON.stringify(axes)} keepDims ${keepDims}`;
        await compare(`sum ${what}`, [x], (t) => tf.sum(t!, axes as never, keepDims));
        await compare(`mean ${what}`, [x], (t) => tf.mean(t!, axes as never, keepDims));
        await compare(`max ${what}`, [x], (t) => tf.max(t!, axes as never, keepDims));
        await compare(`min ${what}`, [x], (t) => tf.min(t!, axes as never, keepDims));
      }
    }
    for (const perm of [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3], [1, 0, 3, 2], [2, 3, 0, 1], [0, 1, 3, 2]]) {
      await compare(`transpose ${perm}`, [x], (t) => tf.transpose(t!, perm));
    }
    const wide = { data: r.floats(2 * 70 * 45), shape: [2, 70, 45] };
    await compare('transpose (tiled) 0 2 1', [wide], (t) => tf.transpose(t!, [0, 2, 1]));
    await compare('transpose (tiled) 2 1 0', [wide], (t) => tf.transpose(t!, [2, 1, 0]));
    for (const [begin, size] of <[number[], number[]][]>[[[0, 1, 1, 0], [3, 2, 3, 6]], [[1, 0, 0, 2], [1, 4, 5, 3]], [[2, 3, 4, 5], [1, 1, 1, 1]], [[0, 0, 0, 0], [2, 4, 5, 6]], [[1, 1, 0, 0], [-1, 2, -1, -1]]]) {
      await compare(`slice ${begin} ${size}`, [x], (t) => tf.slice(t!, begin, size));
      await compare(`slice ${begin} ${size} gradient`, [x], withGrads((t) => tf.slice(t!, begin, size), tf.tidy(() => tf.slice(tf.zeros(x.shape), begin, size).shape), 6));
    }
    await compare('pad', [x], (t) => tf.pad(t!, [[1, 0], [0, 2], [3, 1], [0, 0]], 0.5));
    await compare('pad gradient', [x], withGrads((t) => tf.pad(t!, [[1, 0], [0, 2], [3, 1], [0, 0]]), [4, 6, 9, 6], 3));
  });

  it('keeps NaN and infinity where the cpu kernels do', async () => {
    const special = { data: Float32Array.of(NaN, 1, -Infinity, 2, Infinity, -3), shape: [2, 3] };
    await compare('max with NaN', [special], (t) => tf.max(t!, 1));
    await compare('relu with NaN', [special], (t) => tf.relu(t!));
    await compare('maximum with NaN', [special, special], (a, b) => tf.maximum(a!, tf.reverse(b!)));
  });
});

describe('native fused layers', () => {
  it('GELU and LayerNorm equal the composite ops on the cpu backend, values and gradients', async () => {
    const { gelu, layerNorm } = await import('../../../src/nodes/tensor/fused.ts');
    const r = rng(61);
    const x = { data: r.floats(2 * 5 * 7 * 24).map((v) => v * 4), shape: [2, 5, 7, 24] };
    const gamma = { data: r.floats(24), shape: [24] };
    const beta = { data: r.floats(24), shape: [24] };
    await compare('gelu', [x], (t) => gelu(t!));
    await compare('gelu gradient', [x], withGrads((t) => gelu(t!), x.shape, 4));
    await compare('layerNorm', [x, gamma, beta], (t, g, b) => layerNorm(t!, g!, b!, 1e-6));
    await compare('layerNorm gradients', [x, gamma, beta], withGrads((t, g, b) => layerNorm(t!, g!, b!, 1e-6), x.shape, 5));
  });

  it('uses the fused kernels on the native backend and not on cpu', async () => {
    const { gelu, FUSED_KERNELS } = await import('../../../src/nodes/tensor/fused.ts');
    const kernelsRun = async (backend: string) => {
      await tf.setBackend(backend);
      const profile = await tf.profile(() => tf.tidy(() => gelu(tf.ones([4]))));
      return profile.kernelNames;
    };
    expect(await kernelsRun(NATIVE_BACKEND)).toEqual([FUSED_KERNELS.gelu]);
    expect(await kernelsRun('cpu')).not.toContain(FUSED_KERNELS.gelu);
  });
});

describe('native output pool', () => {
  it('reuses an output array only once no tensor or view can see it', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const a = tf.tensor([1, 2, 3, 4, 5, 6]);
    const y = tf.mul(a, 2); // a native output, from the pool
    const view = tf.slice(y, [2], [3]); // cpu Slice: a subarray of y's array
    const split = tf.split(y, 2); // cpu SplitV: views too
    y.dispose();
    // y's array is still seen by the views: new outputs of the same size must not reuse it.
    const others = Array.from({ length: 4 }, () => tf.add(a, 100));
    expect(Array.from(view.dataSync())).toEqual([6, 8, 10]);
    expect(split.map((t) => Array.from(t.dataSync()))).toEqual([[2, 4, 6], [8, 10, 12]]);
    tf.dispose([view, ...split, ...others]);
    // All views gone, and the reads above took their arrays out of the pool for good: a fresh output is still right.
    const z = tf.mul(a, 3);
    expect(Array.from(z.dataSync())).toEqual([3, 6, 9, 12, 15, 18]);
    const read = tf.add(a, 1);
    const values = read.dataSync(); // escapes: must never be overwritten by a later kernel
    read.dispose();
    const later = tf.tidy(() => [tf.add(a, 7), tf.add(a, 8), tf.add(a, 9)].map((t) => t.dataSync()));
    expect(Array.from(values)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(later.map((v) => v[0])).toEqual([8, 9, 10]);
    tf.dispose([a, z]);
  });

  it('gives the same training losses with pooling as the cpu backend gives', async () => {
    const r = rng(71);
    const data = { w: r.floats(16 * 8), x: r.floats(32 * 16), t: r.floats(32 * 8) };
    const losses = async (backend: string) => {
      await tf.setBackend(backend);
      const w = tf.variable(tf.tensor(data.w, [16, 8]));
      const x = tf.tensor(data.x, [32, 16]);
      const t = tf.tensor(data.t, [32, 8]);
      const optimizer = tf.train.sgd(0.1);
      const out: number[] = [];
      for (let i = 0; i < 15; i++) {
        const loss = optimizer.minimize(() => tf.mean(tf.squaredDifference(tf.softmax(tf.matMul(x, w)), t)) as tf.Scalar, true)!;
        out.push(loss.dataSync()[0]!);
        loss.dispose();
      }
      tf.dispose([w, x, t]);
      optimizer.dispose();
      return out;
    };
    const expected = await losses('cpu');
    const actual = await losses(NATIVE_BACKEND);
    for (const [i, v] of actual.entries()) expect(v).toBeCloseTo(expected[i]!, 5);
    expect(actual.at(-1)!).toBeLessThan(actual[0]!);
  });
});

describe('native kernels and memory', () => {
  it('keep the tensor count flat over repeated training steps', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const r = rng(2);
    const w = tf.variable(tf.tensor4d(r.floats(3 * 3 * 2 * 4), [3, 3, 2, 4]));
    const v = tf.variable(tf.tensor(r.floats(4 * 3), [4, 3]));
    const x = tf.tensor4d(r.floats(2 * 8 * 8 * 2), [2, 8, 8, 2]);
    const optimizer = tf.train.adam(0.01);
    const step = () => optimizer.minimize(() => tf.mean(tf.square(tf.matMul(tf.conv2d(x, w, 1, 'same').reshape([-1, 4]), v))) as tf.Scalar, false);
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, v, x]);
    optimizer.dispose();
  });

  it('rejects arrays of the wrong size or type, naming the argument', () => {
    const load = loadAddon();
    if (!load.ok) throw new Error(load.reason);
    const zero = new Float64Array([0]);
    expect(() => load.addon.batchMatMul(new Float32Array(6), zero, new Float32Array(6), zero, new Float32Array(5), 2, 2, 3, false, false)).toThrow(/out: expected 4 floats, got 5/);
    expect(() => load.addon.batchMatMul(new Float32Array(5), zero, new Float32Array(6), zero, new Float32Array(4), 2, 2, 3, false, false)).toThrow(/a: an offset reads past the end/);
    expect(() => load.addon.conv2d(0, new Int32Array(15).fill(1), new Float32Array(1), new Float32Array(2), new Float32Array(1))).toThrow(/filter: expected 1 floats, got 2/);
    expect(() => load.addon.conv2d(0, new Int32Array(3), new Float32Array(1), new Float32Array(1), new Float32Array(1))).toThrow(/geometry: expected 15 integers/);
    expect(() => load.addon.conv2d(0, new Int32Array(15).fill(1), [1] as unknown as Float32Array, new Float32Array(1), new Float32Array(1))).toThrow(/x: expected a Float32Array/);
  });
});
