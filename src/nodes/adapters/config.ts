/**
 * The adapter-injection config: one schema for every method, so swapping LoRA for Conv-LoRA in
 * a pipeline is changing `method`. Fields that a method ignores are harmless.
 */
import { z } from 'zod';

export const ADAPTER_METHODS = ['lora', 'conv-lora', 'decoder-only', 'bitfit', 'adapter', 'ssf', 'vpt', 'full'] as const;
export type AdapterMethodName = (typeof ADAPTER_METHODS)[number];

export const AdapterConfigSchema = z
  .object({
    method: z.enum(ADAPTER_METHODS).describe('which PEFT method to inject'),
    targetModules: z
      .string()
      .default('^image_encoder\\.blocks\\.\\d+\\.attn\\.qkv$')
      .describe('regex over official module paths (parameter keys without .weight) that LoRA / Conv-LoRA adapt; the official Conv-LoRA adapts the fused qkv'),
    layers: z.array(z.number().int().min(0)).optional().describe('encoder blocks to adapt (default: all)'),
    rank: z.number().int().positive().default(3).describe('LoRA / Conv-LoRA rank, or the bottleneck width of Houlsby adapters'),
    alpha: z.number().positive().default(32).describe('LoRA scaling numerator: updates are scaled by alpha / rank'),
    dropout: z.number().min(0).max(1).default(0).describe('dropout on the adapter input while training'),
    promptTokens: z.number().int().positive().default(8).describe('VPT: learnable prompt tokens per adapted encoder block'),
    experts: z.number().int().positive().default(8).describe('Conv-LoRA experts; expert i works at scale i + 1'),
    gateWeighted: z.boolean().default(false).describe('Conv-LoRA: multiply the chosen expert output by its gate value (the official code does not)'),
    trainDecoder: z.boolean().default(true).describe('train the whole mask decoder as well (the Conv-LoRA recipe)'),
    freezeIouHead: z.boolean().default(true).describe('keep the IoU head frozen when training the decoder (its output is unused without prompts)'),
    maskTokens: z.number().int().positive().default(1).describe("mask tokens the decoder trains, the checkpoint's first: 1 is Conv-LoRA's binary decoder (token 0 and hypernetwork MLP 0; the others never train nor are saved); must match sam/semantic's maskTokens"),
    seed: z.number().int().default(0).describe('seed for the adapter initialisation'),
  })
  .strict();

export type AdapterConfig = z.infer<typeof AdapterConfigSchema>;

export function parseAdapterConfig(raw: unknown, where = 'adapter config'): AdapterConfig {
  const parsed = AdapterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${where}: ${parsed.error.issues.map((i) => `'${i.path.join('.') || '(config)'}': ${i.message}`).join('; ')}`);
  }
  try {
    new RegExp(parsed.data.targetModules);
  } catch (error) {
    throw new Error(`${where}: targetModules is not a valid regex (${error instanceof Error ? error.message : String(error)})`);
  }
  return parsed.data;
}
