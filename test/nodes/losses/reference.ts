/**
 * Float64 reference implementations of the losses, written from their definitions with plain
 * loops (no tfjs), and a central-difference gradient, for the loss tests.
 */
export { BACKENDS, useBackend } from '../../fixtures/tensors.ts';

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** −[y log σ(x) + (1 − y) log(1 − σ(x))], directly from the definition. */
export const bce = (x: number, y: number) => -(y * Math.log(sigmoid(x)) + (1 - y) * Math.log(1 - sigmoid(x)));

/** Central differences of f at x, in float64. */
export function numericGrad(f: (x: number[]) => number, x: readonly number[], h = 1e-6): number[] {
  return x.map((_, i) => {
    const plus = [...x];
    const minus = [...x];
    plus[i]! += h;
    minus[i]! -= h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

/** A deterministic pseudo-random sequence in [lo, hi). */
export function values(n: number, seed: number, lo = -2, hi = 2): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

/** Expects tf's gradient (float32) to match the float64 numeric one. */
export function expectGradClose(actual: ArrayLike<number>, expected: readonly number[], tol = 2e-4): void {
  const scale = Math.max(1e-3, ...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / scale;
    if (!(err < tol)) throw new Error(`gradient ${i}: got ${actual[i]}, expected ${expected[i]} (relative error ${err.toExponential(2)})`);
  }
}
