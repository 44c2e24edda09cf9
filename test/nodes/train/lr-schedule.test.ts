import { describe, expect, it } from 'vitest';
import { checkSchedule, learningRate, LrScheduleParams, type LrSchedule } from '../../../src/nodes/train/lr-schedule.ts';

const schedule = (s: Partial<LrSchedule>): LrSchedule => LrScheduleParams.parse(s);

/**
 * Hugging Face transformers' schedule lambdas (optimization.py), ported line by line: the
 * multiplier LambdaLR applies to the initial lr at step s. Cosine with a floor is
 * get_cosine_with_min_lr_schedule_with_warmup (min_lr_rate = endLr / lr, num_cycles 0.5).
 */
const hf = {
  constant: (s: number, warmup: number) => (s < warmup ? s / Math.max(1, warmup) : 1),
  polynomial: (s: number, warmup: number, total: number, lrInit: number, lrEnd: number, power: number) => {
    if (s < warmup) return s / Math.max(1, warmup);
    if (s > total) return lrEnd / lrInit;
    const lrRange = lrInit - lrEnd;
    const decaySteps = total - warmup;
    const pctRemaining = 1 - (s - warmup) / decaySteps;
    return (lrRange * pctRemaining ** power + lrEnd) / lrInit;
  },
  cosine: (s: number, warmup: number, total: number, minLrRate: number) => {
    if (s < warmup) return s / Math.max(1, warmup);
    const progress = (s - warmup) / Math.max(1, total - warmup);
    const factor = 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress));
    return Math.max(0, factor * (1 - minLrRate) + minLrRate);
  },
};

describe('learning-rate schedules', () => {
  it('warms up linearly from 0 at step 0 to lr at warmupSteps, then stays constant', () => {
    const s = schedule({ schedule: 'constant', warmupSteps: 4 });
    expect([0, 1, 2, 3, 4, 5, 1000].map((step) => learningRate(0.1, step, s))).toEqual([0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1].map((v) => expect.closeTo(v, 15)));
  });

  it('is lr from step 0 without warmup on a constant schedule (totalSteps not needed)', () => {
    const s = schedule({});
    expect(s.schedule).toBe('constant');
    expect([0, 1, 50, 10_000].map((step) => learningRate(3e-4, step, s))).toEqual([3e-4, 3e-4, 3e-4, 3e-4]);
  });

  it('decays linearly (power 1) to 0: half the lr halfway, a quarter left at three quarters', () => {
    const s = schedule({ schedule: 'polynomial', totalSteps: 100 });
    expect(learningRate(1e-4, 0, s)).toBeCloseTo(1e-4, 15);
    expect(learningRate(1e-4, 50, s)).toBeCloseTo(5e-5, 15);
    expect(learningRate(1e-4, 75, s)).toBeCloseTo(2.5e-5, 15);
    expect(learningRate(1e-4, 99, s)).toBeCloseTo(1e-6, 15);
  });

  it('decays with power 2 after warmup towards endLr > 0', () => {
    // lr 1, endLr 0.1, warmup 10, total 110: decay over 100 steps, lr = 0.1 + 0.9 (1 - progress)^2
    const s = schedule({ schedule: 'polynomial', power: 2, warmupSteps: 10, totalSteps: 110, endLr: 0.1 });
    expect(learningRate(1, 5, s)).toBeCloseTo(0.5, 12); // warmup: 5 / 10
    expect(learningRate(1, 10, s)).toBeCloseTo(1, 12); // progress 0
    expect(learningRate(1, 35, s)).toBeCloseTo(0.1 + 0.9 * 0.75 ** 2, 12); // 0.60625
    expect(learningRate(1, 60, s)).toBeCloseTo(0.325, 12); // 0.1 + 0.9 * 0.25
    expect(learningRate(1, 100, s)).toBeCloseTo(0.1 + 0.9 * 0.01, 12);
  });

  it('is endLr at totalSteps and beyond, for polynomial and cosine decay', () => {
    for (const kind of ['polynomial', 'cosine'] as const) {
      const s = schedule({ schedule: kind, warmupSteps: 2, totalSteps: 12, endLr: 0.05 });
      expect([12, 13, 20, 1e6].map((step) => learningRate(0.5, step, s)), kind).toEqual([0.05, 0.05, 0.05, 0.05]);
    }
    expect(learningRate(0.5, 12, schedule({ schedule: 'cosine', totalSteps: 12 }))).toBe(0);
  });

  it('follows half a cosine: 1/2 (1 + cos(pi progress)) of the lr', () => {
    const s = schedule({ schedule: 'cosine', totalSteps: 8 });
    // cos(pi / 4) = sqrt(2) / 2
    expect(learningRate(2, 0, s)).toBeCloseTo(2, 12);
    expect(learningRate(2, 2, s)).toBeCloseTo(1 + Math.SQRT1_2, 12);
    expect(learningRate(2, 4, s)).toBeCloseTo(1, 12);
    expect(learningRate(2, 6, s)).toBeCloseTo(1 - Math.SQRT1_2, 12);
  });

  it('ends a cosine decay at endLr: endLr + (lr - endLr) of the cosine factor', () => {
    const s = schedule({ schedule: 'cosine', warmupSteps: 4, totalSteps: 12, endLr: 0.5 });
    expect(learningRate(2, 2, s)).toBeCloseTo(1, 12); // warmup goes from 0, not from endLr
    expect(learningRate(2, 4, s)).toBeCloseTo(2, 12);
    expect(learningRate(2, 8, s)).toBeCloseTo(1.25, 12); // halfway: 0.5 + 1.5 * 0.5
  });

  it("matches Hugging Face's lambdas step by step over a whole run", () => {
    const lr = 3e-3;
    const [warmup, total] = [7, 40];
    for (let step = 0; step <= total + 5; step++) {
      expect(learningRate(lr, step, schedule({ schedule: 'constant', warmupSteps: warmup })), `constant ${step}`).toBeCloseTo(lr * hf.constant(step, warmup), 14);
      for (const [endLr, power] of [[0, 1], [1e-4, 1], [1e-4, 2.5]] as const) {
        const s = schedule({ schedule: 'polynomial', warmupSteps: warmup, totalSteps: total, endLr, power });
        expect(learningRate(lr, step, s), `polynomial ${endLr} ${power} ${step}`).toBeCloseTo(lr * hf.polynomial(step, warmup, total, lr, endLr, power), 14);
      }
    }
    // HF's cosine rises again past total_steps (cos beyond pi); up to there it is the reference.
    for (let step = 0; step <= total; step++) {
      for (const endLr of [0, 1e-4]) {
        const s = schedule({ schedule: 'cosine', warmupSteps: warmup, totalSteps: total, endLr });
        expect(learningRate(lr, step, s), `cosine ${endLr} ${step}`).toBeCloseTo(lr * hf.cosine(step, warmup, total, endLr / lr), 14);
      }
    }
  });
});

describe('checkSchedule', () => {
  it('refuses a polynomial schedule with totalSteps <= warmupSteps, naming both and where', () => {
    expect(() => checkSchedule(schedule({ schedule: 'polynomial', warmupSteps: 10, totalSteps: 10 }), "node 'optimizer'")).toThrow(
      "node 'optimizer': a polynomial schedule needs totalSteps > warmupSteps (got totalSteps 10, warmupSteps 10); pipelines derive totalSteps from data size, epochs, batch and accumulation",
    );
  });

  it('refuses a cosine schedule without totalSteps', () => {
    expect(() => checkSchedule(schedule({ schedule: 'cosine' }), 'here')).toThrow('here: a cosine schedule needs totalSteps > warmupSteps (got totalSteps 0, warmupSteps 0)');
  });

  it('accepts a decay with totalSteps one past warmup, and a constant schedule with neither', () => {
    expect(() => checkSchedule(schedule({ schedule: 'cosine', warmupSteps: 3, totalSteps: 4 }), 'here')).not.toThrow();
    expect(() => checkSchedule(schedule({ schedule: 'constant', warmupSteps: 5 }), 'here')).not.toThrow();
  });
});
