/**
 * What every backend's training needs from the engine beyond tfjs's defaults: gradients that save
 * shapes rather than tensors (shape-only-gradients.ts) and a backward pass that frees as it goes
 * (lean-backprop.ts). Together they take a vit_b 1024 px Conv-LoRA step from more than 20 GiB to
 * under PyTorch's peak (bench/train.ts).
 */
import { registerLeanBackprop } from './lean-backprop.ts';
import { registerShapeOnlyGradients } from './shape-only-gradients.ts';

export function registerTrainingMemory(): void {
  registerShapeOnlyGradients();
  registerLeanBackprop();
}
