/** Registers every built-in node kind (the worker imports this before rebuilding segments). */
export { RandomFlip } from './augment/random-flip.ts';
export { Batch } from './data/batch.ts';
export { SyntheticShapes } from './data/synthetic-shapes.ts';
export { SigmoidBce } from './losses/sigmoid-bce.ts';
export { BinaryIou } from './metrics/binary-iou.ts';
export { PatchMlp } from './models/patch-mlp.ts';
export { Adam } from './train/adam.ts';
