/** NumPy broadcasting as element strides, for the kernels that walk broadcast inputs in place. */

/**
 * Element strides of `shape` seen through the broadcast shape `out` (right-aligned), 0 where it
 * broadcasts; `unit` is the stride of the innermost dimension (a whole matrix for batch dims).
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[], unit = 1): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let stride = unit;
  for (let i = shape.length - 1, j = out.length - 1; i >= 0; i--, j--) {
    strides[j] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}
