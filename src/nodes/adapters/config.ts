/**
 * The adapter-injection config: one schema for every method, so swapping LoRA for Conv-LoRA in
 * a pipeline is changing `method`. Fields that a method ignores are harmless.
 */
import { z } from 'zod';

export const ADAPTER_METHODS = ['lora', 'conv-lora', 'decoder-only', 'bitfit', 'adapter', 'ssf', 'vpt', 'sam-adapter', 'lst', 'ta-lora', 'full'] as const;
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
    // SAM-Adapter (EVP's prompt generator); defaults are the public SAM-Adapter code's.
    scaleFactor: z.number().int().positive().default(32).describe('SAM-Adapter: the prompt generator is encoder_embed_dim / scaleFactor channels wide (EVP scale_factor)'),
    freqNums: z.number().gt(0).max(1).default(0.25).describe("SAM-Adapter: share of the spectrum's area, a centred square of low frequencies, that the FFT high-pass removes (EVP freq_nums)"),
    embeddingTune: z.boolean().default(true).describe('SAM-Adapter: feed the prompts a projection of the patch embedding (EVP embedding_tune)'),
    handcraftedTune: z.boolean().default(true).describe("SAM-Adapter: feed the prompts a patch embedding of the image's FFT high-pass (EVP handcrafted_tune)"),
    // LST (ladder side-tuning); defaults are the public LST code's (task_reduction_factor 8, gate_T 0.1, gate_alpha 0).
    sideReduction: z.number().int().positive().default(8).describe('LST: reduction factor r; the side network is encoder_embed_dim / r channels wide (heads kept, head width and MLP divided by r)'),
    ladderTemperature: z.number().positive().default(0.1).describe('LST: temperature T of the ladder gates, gate = sigmoid(alpha / T)'),
    ladderGateInit: z.number().default(0).describe('LST: initial alpha of every ladder gate (0: the side stream and the ladder start mixed half and half)'),
    sideInit: z.enum(['pruned', 'random']).default('pruned').describe("LST: side blocks start as the backbone's blocks structurally pruned to 1/r width by weight L1 norm (the paper prunes), or fresh"),
    // TA-LoRA (ToRA, spec ta-lora.md §1); defaults are the released MTSAM NYUv2 script's.
    tasks: z.number().int().positive().default(1).describe('TA-LoRA: number of tasks T (rows of the task factor U3); LoRA: one independent LoRA per task (LoRA-STL)'),
    tuckerRanks: z
      .tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()])
      .default([32, 32, 4])
      .describe('TA-LoRA: Tucker ranks [R1, R2, R3] of the core G (input side, output side, task side; R3 > T is allowed)'),
    tuckerScaling: z.number().default(0.5).describe('TA-LoRA: the fixed scaling s of the update (not alpha / rank)'),
    tuckerDropout: z.number().min(0).lt(1).default(0.1).describe("TA-LoRA: dropout on the adapter branch's input while training (the run script's 0.1; its CLI default is 0.05)"),
    enableQkv: z
      .tuple([z.boolean(), z.boolean(), z.boolean()])
      .default([true, true, true])
      .describe('TA-LoRA: which thirds (q, k, v) of the fused qkv output get an update'),
    trainEncoderNorms: z
      .boolean()
      .optional()
      .describe("train every encoder block's norm1 / norm2 LayerNorm (not the neck's); default: on for ta-lora (the released code un-freezes them), off for the others"),
    trainDecoder: z.boolean().default(true).describe('train the whole mask decoder as well (the Conv-LoRA recipe)'),
    freezeIouHead: z.boolean().default(true).describe('keep the IoU head frozen when training the decoder (its output is unused without prompts)'),
    maskTokens: z.number().int().positive().default(1).describe("mask tokens the decoder trains, the checkpoint's first: 1 is Conv-LoRA's binary decoder (token 0 and hypernetwork MLP 0; the others never train nor are saved); must match sam/semantic's maskTokens; with classes, the Q tokens of the multi-class decoder"),
    classes: z.number().int().min(0).default(0).describe("multi-class decoder (Conv-LoRA's class head): the number of classes; its maskTokens tokens are copies of token 0 sharing hypernetwork MLP 0, with a Linear(C → classes + 1) class head on each (0: the binary decoder)"),
    tokenJitter: z.number().min(0).default(0).describe("multi-class decoder: Gaussian noise added to each copy of token 0, as a fraction of token 0's standard deviation (0: exact copies, the official code; identical tokens stay alike for many steps, which a small model trained from scratch cannot afford)"),
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
