/**
 * Backpropagation that frees as it goes.
 *
 * tfjs's engine.gradients (4.22) walks the tape backwards and keeps everything to the end: the
 * gradient of every activation and every tensor a node saved for its gradient stay alive until
 * the whole backward pass is over. So a training step's peak holds the forward's saved tensors
 * plus one gradient per activation of the whole network, about twice what it needs. PyTorch
 * frees a node's saved tensors once its backward has run, and an activation's gradient once the
 * node that made the activation has consumed it.
 *
 * This does the same walk (the same pruning of the tape to the paths from xs to y, the same
 * accumulation of gradients) and, once a node's input gradients are made, disposes its saved
 * tensors and the gradients of its outputs. Nothing later reads them: every consumer of an output
 * comes after its producer on the tape, so its gradient is complete, and used, when the producer
 * is reached. A gradient tensor that is also another tensor's gradient (a gradient function that
 * passes dy through) is kept until its last holder is done. Higher-order gradients (a tape inside
 * a tape) keep tfjs's behaviour: the outer tape still needs the saved tensors.
 *
 * And, as PyTorch records nothing for tensors that need no gradient, an operation none of whose
 * inputs depends on an x is not taped: its saved tensors are let go at once instead of at the end
 * (a frozen encoder in front of a trained decoder kept every activation it saved until the end of
 * the backward pass, which never reaches it).
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: tf.Tensor[];
  readonly saved?: tf.Tensor[];
  readonly gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface Engine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  addTapeNode(kernelName: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[], gradientsFunc: unknown, saved: tf.Tensor[], attrs: Record<string, unknown>): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
}

/** The tape's nodes on a path from some x to y, each with only the inputs that depend on an x. */
function pathsFromXsToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    nodesToY.add(node.id);
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  return tape
    .filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

/** Gradients by tensor id, disposing a gradient once no id holds it any more. */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  holds(grad: tf.Tensor): boolean {
    return this.holders.has(grad);
  }

  set(id: number, grad: tf.Tensor): void {
    this.release(id);
    this.byId.set(id, grad);
    this.holders.set(grad, (this.holders.get(grad) ?? 0) + 1);
  }

  /** Forgets id's gradient, disposing it if no other id holds it. */
  release(id: number): void {
    const grad = this.byId.get(id);
    if (!grad) return;
    this.byId.delete(id);
    const left = this.holders.get(grad)! - 1;
    if (left > 0) this.holders.set(grad, left);
    else {
      this.holders.delete(grad);
      grad.dispose();
    }
  }
}

function backpropagate(engine: Engine, tape: readonly TapeNode[], y: tf.Tensor, dy: tf.Tensor | undefined, xs: readonly tf.Tensor[], freeSaved: boolean): tf.Tensor[] {
  const grads = new GradientMap();
  grads.set(y.id, dy ?? tf.onesLike(y));
  const wanted = new Set(xs.map((x) => x.id));
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const gradient = node.gradient;
    const inputs = Object.entries(node.inputs);
    // One scope per node: a gradient function's intermediates (a custom gradient that recomputes
    // its forward makes them before any input gradient is asked for) are freed with it.
    const dxs = engine.tidy(() => {
      const inputGradients = gradient(node.outputs.map((o) => grads.get(o.id) ?? null));
      return Object.fromEntries(
        inputs.map(([name]) => {
          const make = inputGradients[name];
          if (!make) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
          return [name, make()];
        }),
      );
    }) as Record<string, tf.Tensor>;
    for (const [name, x] of inputs) {
      const dx = dxs[name]!;
      if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      if (dx.shape.join() !== x.shape.join()) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
      }
      const before = grads.get(x.id);
      grads.set(x.id, before ? tf.add(before, dx) : dx);
      // The sum replaced both addends, unless dx is a gradient held elsewhere (a dy passed through).
      if (before && !grads.holds(dx)) dx.dispose();
    }
    for (const o of node.outputs) if (!wanted.has(o.id)) grads.release(o.id);
    if (freeSaved) for (const t of node.saved ?? []) t.dispose();
  }
  return xs.map((x) => grads.get(x.id)!);
}

let registered = false;

/**
 * Per gradients() call recording now, the tensors that depend on its xs. Nodes are left off the
 * tape only while exactly one records (a nested recording, for higher-order gradients, keeps
 * every node for the outer one).
 */
const recordings: Set<number>[] = [];

/** Replaces the engine's gradients() with the freeing walk (global: every tf.grad / variableGrads). */
export function registerLeanBackprop(): void {
  if (registered) return;
  registered = true;
  const engine = tf.engine() as unknown as Engine;
  const addTapeNode = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (kernelName, inputs, outputs, gradientsFunc, saved, attrs) => {
    const tensors = Object.values(inputs);
    const reached = recordings.filter((fromX) => tensors.some((t) => fromX.has(t.id)));
    if (recordings.length === 1 && !reached.length) {
      for (const t of saved) t.dispose();
      return;
    }
    for (const fromX of reached) for (const o of outputs) fromX.add(o.id);
    addTapeNode(kernelName, inputs, outputs, gradientsFunc, saved, attrs);
  };
  engine.gradients = function gradients(f, xs, dy, allowNoGradients = false) {
    if (!xs.length) throw new Error('gradients() received an empty list of xs.');
    if (dy && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    recordings.push(new Set(xs.map((x) => x.id)));
    let y: tf.Tensor;
    try {
      y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
    } finally {
      recordings.pop();
    }
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape!;
    const outermost = engine.state.gradientDepth === 0;
    const path = pathsFromXsToY(tape, xs, y);
    if (!allowNoGradients && path.length === 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    return engine.tidy('backward', () => {
      const grads = backpropagate(engine, path, y, dy, xs, outermost);
      if (outermost) {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        engine.state.activeTape = null;
      }
      return { value: y, grads } as unknown as tf.TensorContainer;
    }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
  };
}
