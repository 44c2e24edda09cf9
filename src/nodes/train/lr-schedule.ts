/**
 * Learning-rate schedules stepped per optimiser step, as Hugging Face's `get_*_schedule_with_warmup`
 * (what the Conv-LoRA recipe's AutoGluon trainer uses): an optional linear warmup from 0, then
 * constant, polynomial decay `(1 − progress)^power` (power 1: linear) or half a cosine, from `lr`
 * down to `endLr` at `totalSteps`. Step s is the s-th optimiser update, counted from 0, so with
 * warmup the first update uses lr 0, as in PyTorch.
 *
 * ```ts
 * learningRate(1e-4, 50, { schedule: 'polynomial', power: 1, warmupSteps: 0, totalSteps: 100, endLr: 0 }); // 5e-5
 * ```
 */
import { z } from 'zod';

export const LR_SCHEDULES = ['constant', 'polynomial', 'cosine'] as const;

export const LrScheduleParams = z.object({
  schedule: z.enum(LR_SCHEDULES).default('constant').describe('lr after warmup: constant, polynomial decay (power) or cosine decay, to endLr at totalSteps'),
  power: z.number().positive().default(1).describe('power of the polynomial decay (1: linear)'),
  warmupSteps: z.number().int().min(0).default(0).describe('optimiser steps of linear warmup from 0'),
  totalSteps: z.number().int().min(0).default(0).describe('optimiser steps of the whole run (polynomial and cosine decay end there)'),
  endLr: z.number().min(0).default(0).describe('lr at the end of a decay'),
});
export type LrSchedule = z.output<typeof LrScheduleParams>;

/** Checks what a schedule needs, with the param names a user sets. */
export function checkSchedule(s: LrSchedule, where: string): void {
  if (s.schedule !== 'constant' && s.totalSteps <= s.warmupSteps) {
    throw new Error(`${where}: a ${s.schedule} schedule needs totalSteps > warmupSteps (got totalSteps ${s.totalSteps}, warmupSteps ${s.warmupSteps}); pipelines derive totalSteps from data size, epochs, batch and accumulation`);
  }
}

export function learningRate(lr: number, step: number, s: LrSchedule): number {
  if (step < s.warmupSteps) return (lr * step) / Math.max(1, s.warmupSteps);
  if (s.schedule === 'constant') return lr;
  if (step >= s.totalSteps) return s.endLr;
  const progress = (step - s.warmupSteps) / (s.totalSteps - s.warmupSteps);
  const factor = s.schedule === 'polynomial' ? (1 - progress) ** s.power : 0.5 * (1 + Math.cos(Math.PI * progress));
  return s.endLr + (lr - s.endLr) * factor;
}
