/**
 * Adam / AdamW with state kept per parameter key, as PyTorch keeps it per parameter.
 *
 * tfjs's own Adam indexes its moments by the position of a variable in each step's gradient
 * list, so a step where some variable has no gradient (a Conv-LoRA expert no sample was routed
 * to) shifts every later moment onto the wrong variable. Here a variable without a gradient is
 * simply skipped, like PyTorch's `grad is None`. Weight decay is decoupled (AdamW) and, as in
 * the Conv-LoRA recipe, not applied to rank-1 parameters (biases and norm weights). Keys are
 * the segment's stable parameter keys, so the moments can be saved and restored in another
 * process (`tensors()` / `load()`).
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Clip the global gradient norm to this value (0: no clipping). */
  readonly clipNorm: number;
}

interface Moments {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
  step: number;
}

export class AdamW {
  private readonly state = new Map<string, Moments>();

  constructor(private readonly options: AdamWOptions) {}

  /** One update with learning rate `lr`; returns the global gradient norm before clipping. */
  apply(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): number {
    const { beta1, beta2, epsilon, weightDecay, clipNorm } = this.options;
    const present = [...variables].filter(([key]) => grads.has(key));
    if (!present.length) return 0;
    const norm = tf.tidy(() => Math.sqrt(tf.addN(present.map(([key]) => tf.sum(tf.square(grads.get(key)!)))).dataSync()[0]!));
    const clip = clipNorm > 0 && norm > clipNorm ? clipNorm / (norm + 1e-6) : 1;
    for (const [key, variable] of present) {
      let s = this.state.get(key);
      if (!s) {
        // In a tidy, so the zeros' own handles go and only the variables count as live tensors.
        s = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(variable), false), v: tf.variable(tf.zerosLike(variable), false), step: 0 }));
        this.state.set(key, s);
      }
      const state = s;
      state.step++;
      tf.tidy(() => {
        const g = tf.mul(grads.get(key)!, clip);
        state.m.assign(tf.add(tf.mul(state.m, beta1), tf.mul(g, 1 - beta1)));
        state.v.assign(tf.add(tf.mul(state.v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const mHat = tf.div(state.m, 1 - beta1 ** state.step);
        const vHat = tf.div(state.v, 1 - beta2 ** state.step);
        const decayed = weightDecay > 0 && variable.rank > 1 ? tf.mul(variable, 1 - lr * weightDecay) : variable;
        variable.assign(tf.sub(decayed, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), lr)));
      });
    }
    return norm;
  }

  /** The moments as tensors keyed `m/<key>`, `v/<key>`, and each parameter's step count. */
  tensors(): { tensors: Map<string, tf.Tensor>; steps: Record<string, number> } {
    const tensors = new Map<string, tf.Tensor>();
    const steps: Record<string, number> = {};
    for (const [key, s] of this.state) {
      tensors.set(`m/${key}`, s.m);
      tensors.set(`v/${key}`, s.v);
      steps[key] = s.step;
    }
    return { tensors, steps };
  }

  /** Replaces the state with saved moments (see `tensors`). */
  load(tensors: ReadonlyMap<string, tf.Tensor>, steps: Readonly<Record<string, number>>, where: string): void {
    this.dispose();
    for (const [key, step] of Object.entries(steps)) {
      const m = tensors.get(`m/${key}`);
      const v = tensors.get(`v/${key}`);
      if (!m || !v) throw new Error(`${where}: optimiser state for '${key}' lacks its ${m ? 'second' : 'first'} moment`);
      this.state.set(key, { m: tf.variable(m, false), v: tf.variable(v, false), step });
    }
  }

  dispose(): void {
    for (const s of this.state.values()) tf.dispose([s.m, s.v]);
    this.state.clear();
  }
}
