/**
 * SAM-Adapter's sizes on a SAM config, from the adapter config alone (the parameter report
 * needs no weights). The prompt generator works at hidden = ⌊encoder_embed_dim / scaleFactor⌋
 * channels (24 on vit_b at the public code's scale_factor 32).
 */
import type { SamConfig } from '../../sam/config.ts';
import type { AdapterConfig } from '../config.ts';

export interface SamAdapterDims {
  /** encoder_embed_dim */
  readonly embed: number;
  /** The generator's width, ⌊embed / scaleFactor⌋. */
  readonly hidden: number;
  readonly patch: number;
  /** Encoder blocks whose input gets a prompt (one lightweight MLP each). */
  readonly blocks: readonly number[];
  readonly embeddingTune: boolean;
  readonly handcraftedTune: boolean;
  readonly freqNums: number;
}

export function samAdapterDims(c: SamConfig, a: AdapterConfig): SamAdapterDims {
  const hidden = Math.floor(c.encoder_embed_dim / a.scaleFactor);
  if (hidden < 1) throw new Error(`adapter config: sam-adapter scaleFactor ${a.scaleFactor} leaves no channels (encoder_embed_dim ${c.encoder_embed_dim} / ${a.scaleFactor} < 1)`);
  if (!a.embeddingTune && !a.handcraftedTune) throw new Error('adapter config: sam-adapter needs embeddingTune or handcraftedTune (or both): with neither, its prompts would not depend on the image');
  for (const layer of a.layers ?? []) {
    if (layer >= c.encoder_depth) throw new Error(`adapter config: layers has ${layer}, but the encoder has ${c.encoder_depth} blocks (0..${c.encoder_depth - 1})`);
  }
  const blocks = a.layers ? [...new Set(a.layers)].sort((x, y) => x - y) : Array.from({ length: c.encoder_depth }, (_, i) => i);
  return { embed: c.encoder_embed_dim, hidden, patch: c.patch_size, blocks, embeddingTune: a.embeddingTune, handcraftedTune: a.handcraftedTune, freqNums: a.freqNums };
}

/**
 * Parameters SAM-Adapter adds: the embedding generator (d → h linear), the handcrafted generator
 * (patch×patch stride-patch conv, 3 → h), one h → h linear per prompted block, and the shared
 * h → d up-projection, all with biases. vit_b: 18,456 + 18,456 + 12 × 600 + 19,200 = 63,312.
 */
export function samAdapterParameters(c: SamConfig, a: AdapterConfig): number {
  const { embed: d, hidden: h, patch: p, blocks, embeddingTune, handcraftedTune } = samAdapterDims(c, a);
  return (embeddingTune ? d * h + h : 0) + (handcraftedTune ? p * p * 3 * h + h : 0) + blocks.length * (h * h + h) + (h * d + d);
}
