/**
 * Conv-LoRA hyperparameters (Zhong et al., ICLR 2024; spec: conv-lora.md §1.2-1.4). Defaults are
 * those of the official AutoGluon Conv-LoRA example.
 */
import { z } from 'zod';

export const ConvLoraConfigSchema = z
  .object({
    rank: z.number().int().positive().default(3).describe('LoRA bottleneck width r: A is [C, r], B is [r, out], the expert convolutions are r -> r'),
    alpha: z.number().positive().default(32).describe('LoRA alpha; the update is scaled by alpha / rank'),
    experts: z
      .number()
      .int()
      .positive()
      .default(8)
      .describe('number of convolution experts M; expert i runs at scale factor i + 1 (bicubic up, 3x3 conv, GELU, bicubic back)'),
    topK: z.number().int().positive().default(1).describe('experts chosen per sample by the noisy top-k gate (the official code hard-codes 1)'),
    noiseEpsilon: z.number().min(0).default(1e-2).describe('added to softplus(g @ w_noise) to give the gate noise standard deviation'),
    balanceCoefficient: z.number().min(0).default(1e-2).describe('weight of the load-balancing loss coef * (cv^2(importance) + cv^2(load))'),
    gateWeighted: z
      .boolean()
      .default(false)
      .describe('multiply each expert output by its gate value; false (the official code) adds it unweighted'),
    dropout: z.number().min(0).lt(1).default(0).describe('dropout rate on the adapter input x before A, in training only'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.topK > c.experts) {
      ctx.addIssue({ code: 'custom', path: ['topK'], message: `topK ${c.topK} is larger than experts ${c.experts}: the gate cannot choose more experts than exist` });
    }
  });

export type ConvLoraConfig = z.output<typeof ConvLoraConfigSchema>;
export type ConvLoraConfigInput = z.input<typeof ConvLoraConfigSchema>;

/** Validates a config (missing fields take their defaults); `source` names it in errors. */
export function parseConvLoraConfig(raw: unknown = {}, source = 'Conv-LoRA config'): ConvLoraConfig {
  const parsed = ConvLoraConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `'${i.path.join('.') || '(config)'}': ${i.message}`);
    throw new Error(`${source}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The LoRA scaling s = alpha / rank applied to the adapter output. */
export function convLoraScaling(c: Pick<ConvLoraConfig, 'alpha' | 'rank'>): number {
  return c.alpha / c.rank;
}
