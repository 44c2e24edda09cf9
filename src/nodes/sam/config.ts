/**
 * SAM architecture configs: the official presets and any custom config, with exactly the
 * official builder's argument names (snake_case) so a config file reads like build_sam.py.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const SamConfigSchema = z
  .object({
    image_size: z.number().int().positive().describe('input side in pixels (1024 for the released models)'),
    patch_size: z.number().int().positive().describe('ViT patch side (16)'),
    encoder_embed_dim: z.number().int().positive(),
    encoder_depth: z.number().int().positive(),
    encoder_num_heads: z.number().int().positive(),
    encoder_global_attn_indexes: z.array(z.number().int().min(0)).describe('blocks with global attention; the others are windowed'),
    window_size: z.number().int().positive().describe('side of the attention windows (14)'),
    mlp_ratio: z.number().positive(),
    prompt_embed_dim: z.number().int().positive().describe('channels of the image embedding and prompt tokens (256)'),
    mask_in_chans: z.number().int().positive().describe('hidden channels of the mask-prompt downscaler (16)'),
    decoder_depth: z.number().int().positive(),
    decoder_mlp_dim: z.number().int().positive(),
    decoder_num_heads: z.number().int().positive(),
    num_multimask_outputs: z.number().int().min(0),
    iou_head_depth: z.number().int().min(1),
    iou_head_hidden_dim: z.number().int().positive(),
  })
  .strict();

export type SamConfig = z.infer<typeof SamConfigSchema>;

const common = {
  image_size: 1024,
  patch_size: 16,
  window_size: 14,
  mlp_ratio: 4,
  prompt_embed_dim: 256,
  mask_in_chans: 16,
  decoder_depth: 2,
  decoder_mlp_dim: 2048,
  decoder_num_heads: 8,
  num_multimask_outputs: 3,
  iou_head_depth: 3,
  iou_head_hidden_dim: 256,
} as const;

export const SAM_PRESETS = {
  vit_b: { ...common, encoder_embed_dim: 768, encoder_depth: 12, encoder_num_heads: 12, encoder_global_attn_indexes: [2, 5, 8, 11] },
  vit_l: { ...common, encoder_embed_dim: 1024, encoder_depth: 24, encoder_num_heads: 16, encoder_global_attn_indexes: [5, 11, 17, 23] },
  vit_h: { ...common, encoder_embed_dim: 1280, encoder_depth: 32, encoder_num_heads: 16, encoder_global_attn_indexes: [7, 15, 23, 31] },
} satisfies Record<string, SamConfig>;

export type SamPreset = keyof typeof SAM_PRESETS;

/** Validates a config and the relations between its fields; `source` names it in errors. */
export function parseSamConfig(raw: unknown, source = 'SAM config'): SamConfig {
  const parsed = SamConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `'${i.path.join('.') || '(config)'}': ${i.message}`);
    throw new Error(`${source}: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.image_size % c.patch_size !== 0) problems.push(`image_size ${c.image_size} is not a multiple of patch_size ${c.patch_size}`);
  if (c.encoder_embed_dim % c.encoder_num_heads !== 0) {
    problems.push(`encoder_embed_dim ${c.encoder_embed_dim} is not divisible by encoder_num_heads ${c.encoder_num_heads}`);
  }
  const grid = Math.floor(c.image_size / c.patch_size);
  if (c.window_size > grid && c.encoder_global_attn_indexes.length < c.encoder_depth) {
    problems.push(`window_size ${c.window_size} is larger than the ${grid}x${grid} token grid (image_size / patch_size)`);
  }
  for (const i of c.encoder_global_attn_indexes) {
    if (i >= c.encoder_depth) problems.push(`encoder_global_attn_indexes has ${i}, but there are only ${c.encoder_depth} blocks (0..${c.encoder_depth - 1})`);
  }
  if (new Set(c.encoder_global_attn_indexes).size !== c.encoder_global_attn_indexes.length) problems.push('encoder_global_attn_indexes repeats an index');
  if (c.prompt_embed_dim % 2 !== 0) problems.push(`prompt_embed_dim ${c.prompt_embed_dim} must be even (half sine, half cosine features)`);
  if (c.prompt_embed_dim % 8 !== 0) problems.push(`prompt_embed_dim ${c.prompt_embed_dim} must be a multiple of 8 (the mask upscaler divides it by 4 and 8)`);
  if (c.mask_in_chans % 4 !== 0) problems.push(`mask_in_chans ${c.mask_in_chans} must be a multiple of 4`);
  // The cross-attentions work at half width (downsample rate 2) and split that over the heads.
  if (c.prompt_embed_dim % (2 * c.decoder_num_heads) !== 0) {
    problems.push(`prompt_embed_dim ${c.prompt_embed_dim} must be divisible by 2 x decoder_num_heads (${2 * c.decoder_num_heads})`);
  }
  if (!Number.isInteger(c.encoder_embed_dim * c.mlp_ratio)) problems.push(`encoder_embed_dim x mlp_ratio must be a whole number of channels`);
  if (problems.length) throw new Error(`${source}: impossible config: ${problems.join('; ')}`);
  return c;
}

/** A preset name or a config object (from an arch.json). */
export function resolveSamConfig(arch: string | unknown, source?: string): SamConfig {
  if (typeof arch === 'string') {
    const preset = (SAM_PRESETS as Record<string, SamConfig>)[arch];
    if (!preset) throw new Error(`unknown SAM preset '${arch}' (expected ${Object.keys(SAM_PRESETS).join(', ')} or a config file)`);
    return preset;
  }
  return parseSamConfig(arch, source);
}

/** Tokens per side of the image embedding. */
export function gridSize(c: SamConfig): number {
  return c.image_size / c.patch_size;
}

/** A command-line `--arch` value: a preset name or the path of an arch.json. */
export function samConfigFromArg(arch: string): SamConfig {
  if (!arch.endsWith('.json')) return resolveSamConfig(arch);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(arch, 'utf8'));
  } catch (error) {
    throw new Error(`${arch}: cannot read the SAM config (${error instanceof Error ? error.message : String(error)})`);
  }
  return resolveSamConfig(raw, arch);
}
