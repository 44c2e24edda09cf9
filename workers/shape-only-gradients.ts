/**
 * Gradients that keep input shapes instead of input tensors.
 *
 * tfjs's gradients of Add, Sub, Slice, PadV2, Reshape, Concat, Sum and Mean save their inputs
 * (`inputsToSave`) although they read only the inputs' shapes: how to reduce a broadcast sum, pad
 * a slice back, or split a concatenation. A saved input stays alive until the whole backward pass
 * ends, so every residual add, bias add, window pad, head split and reshape of a forward pass kept
 * its full activation for nothing: a third of the live bytes at the end of a vit_b forward
 * (bench/train.ts prints the before and after). PyTorch keeps sizes for these.
 *
 * tfjs passes a gradient only (dy, saved, attrs), so the engine's tape is given the input shapes
 * as an extra attribute (after the kernel ran: kernels never see it), and these gradients, with
 * nothing saved, read them there. The values are those of tfjs's own gradients (tested).
 */
import * as tf from '@tensorflow/tfjs';

const SHAPES = '__samflowInputShapes';
type Shapes = Record<string, readonly number[]>;

interface TapeEngine {
  addTapeNode(kernelName: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[], gradientsFunc: unknown, saved: tf.Tensor[], attrs: Record<string, unknown>): void;
}

const shapesOf = (attrs: unknown, kernel: string): Shapes => {
  const shapes = (attrs as Record<string, unknown> | undefined)?.[SHAPES] as Shapes | undefined;
  if (!shapes) throw new Error(`${kernel} gradient: the tape recorded no input shapes (registerShapeOnlyGradients patches the engine that records them)`);
  return shapes;
};

/** dy summed over the axes that `shape` was broadcast along, in `shape`. */
function unbroadcast(dy: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape as number[], dy.shape);
  return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape as number[]);
}

export const SHAPE_ONLY_GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: 'Add',
    gradFunc: (dy, _saved, attrs) => {
      const s = shapesOf(attrs, 'Add');
      return { a: () => unbroadcast(dy as tf.Tensor, s.a!), b: () => unbroadcast(dy as tf.Tensor, s.b!) };
    },
  },
  {
    kernelName: 'Sub',
    gradFunc: (dy, _saved, attrs) => {
      const s = shapesOf(attrs, 'Sub');
      return { a: () => unbroadcast(dy as tf.Tensor, s.a!), b: () => tf.neg(unbroadcast(dy as tf.Tensor, s.b!)) };
    },
  },
  {
    kernelName: 'Reshape',
    gradFunc: (dy, _saved, attrs) => {
      const s = shapesOf(attrs, 'Reshape');
      return { x: () => tf.reshape(dy as tf.Tensor, s.x as number[]) };
    },
  },
  {
    kernelName: 'Slice',
    gradFunc: (dy, _saved, attrs) => {
      const shape = shapesOf(attrs, 'Slice').x!;
      const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [from, count] = tf.slice_util.parseSliceParams({ shape, rank: shape.length } as unknown as tf.TensorInfo, begin, size) as [number[], number[]];
      const g = dy as tf.Tensor;
      return { x: () => tf.pad(g, shape.map((n, i) => [from[i]!, n - from[i]! - count[i]!] as [number, number])) };
    },
  },
  {
    kernelName: 'PadV2',
    gradFunc: (dy, _saved, attrs) => {
      const shape = shapesOf(attrs, 'PadV2').x!;
      const { paddings } = attrs as unknown as { paddings: [number, number][] };
      return { x: () => tf.slice(dy as tf.Tensor, paddings.map((p) => p[0]), shape as number[]) };
    },
  },
  {
    kernelName: 'Concat',
    gradFunc: (dy, _saved, attrs) => {
      const s = shapesOf(attrs, 'Concat');
      const names = Object.keys(s).sort((a, b) => Number(a) - Number(b));
      const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, s[names[0]!] as number[])[0]!;
      const parts = tf.split(dy as tf.Tensor, names.map((n) => s[n]![axis]!), axis);
      return Object.fromEntries(names.map((n, i) => [n, () => parts[i]!]));
    },
  },
  {
    kernelName: 'Sum',
    gradFunc: (dy, _saved, attrs) => {
      const shape = shapesOf(attrs, 'Sum').x!;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, shape as number[]);
      const kept = shape.map((n, i) => (axes.includes(i) ? 1 : n));
      return { x: () => tf.broadcastTo(tf.reshape(dy as tf.Tensor, kept), shape as number[]) };
    },
  },
  {
    kernelName: 'Mean',
    gradFunc: (dy, _saved, attrs) => {
      const shape = shapesOf(attrs, 'Mean').x!;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, shape as number[]);
      const kept = shape.map((n, i) => (axes.includes(i) ? 1 : n));
      const count = axes.reduce((p, a) => p * shape[a]!, 1);
      return { x: () => tf.broadcastTo(tf.div(tf.reshape(dy as tf.Tensor, kept), count), shape as number[]) };
    },
  },
];

const KERNELS = new Set(SHAPE_ONLY_GRADIENTS.map((g) => g.kernelName));
let registered = false;

/** Registers the gradients and makes the engine's tape record the input shapes they read. */
export function registerShapeOnlyGradients(): void {
  if (registered) return;
  registered = true;
  const engine = tf.engine() as unknown as TapeEngine;
  const addTapeNode = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (kernelName, inputs, outputs, gradientsFunc, saved, attrs) => {
    if (!KERNELS.has(kernelName)) return addTapeNode(kernelName, inputs, outputs, gradientsFunc, saved, attrs);
    const shapes = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, [...t.shape]]));
    return addTapeNode(kernelName, inputs, outputs, gradientsFunc, saved, { ...attrs, [SHAPES]: shapes });
  };
  for (const config of SHAPE_ONLY_GRADIENTS) tf.registerGradient(config);
}
