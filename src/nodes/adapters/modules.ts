/** Which modules of a SAM config a method touches, from the official parameter shapes alone. */
import type { SamConfig } from '../sam/config.ts';
import { isLinearWeight, officialShapes } from '../sam/params.ts';
import type { AdapterConfig } from './config.ts';

export interface LinearModule {
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
  /** The encoder block it belongs to, if any. */
  readonly block?: number;
}

export function blockOf(name: string): number | undefined {
  const m = /^image_encoder\.blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Every linear layer of the model (rank-2 weights that are not embeddings). */
export function linearModules(c: SamConfig): LinearModule[] {
  const modules: LinearModule[] = [];
  for (const [key, shape] of officialShapes(c)) {
    if (!isLinearWeight(key, shape.length)) continue;
    const name = key.slice(0, -'.weight'.length);
    const block = blockOf(name);
    modules.push({ name, outDim: shape[0]!, inDim: shape[1]!, ...(block !== undefined ? { block } : {}) });
  }
  return modules;
}

/** The linear modules that `targetModules` and `layers` select; an empty selection is an error. */
export function targetLinears(c: SamConfig, a: AdapterConfig): LinearModule[] {
  const pattern = new RegExp(a.targetModules);
  for (const layer of a.layers ?? []) {
    if (layer >= c.encoder_depth) throw new Error(`adapter config: layers has ${layer}, but the encoder has ${c.encoder_depth} blocks (0..${c.encoder_depth - 1})`);
  }
  const chosen = linearModules(c).filter((m) => pattern.test(m.name) && (!a.layers || (m.block !== undefined && a.layers.includes(m.block))));
  if (!chosen.length) {
    const examples = linearModules(c).slice(0, 4).map((m) => m.name).join(', ');
    throw new Error(`adapter config: targetModules /${a.targetModules}/${a.layers ? ` with layers [${a.layers.join(', ')}]` : ''} matches no linear module (they look like ${examples}, …)`);
  }
  return chosen;
}

/** A hypernetwork MLP of a mask token past the first `maskTokens`: the decoder never runs it, so it never trains. */
export function isUnusedMaskTokenKey(key: string, maskTokens: number): boolean {
  const m = /^mask_decoder\.output_hypernetworks_mlps\.(\d+)\./.exec(key);
  return m !== null && Number(m[1]) >= maskTokens;
}

/**
 * Mask-decoder parameters a method trains when `trainDecoder` is on. The mask-token table is one
 * of them, but only its first `maskTokens` rows train (see sam/mask-tokens.ts).
 */
export function decoderKeys(c: SamConfig, a: AdapterConfig): string[] {
  return [...officialShapes(c).keys()].filter(
    // A multi-class decoder's tokens all share hypernetwork MLP 0.
    (k) => k.startsWith('mask_decoder.') && !(a.freezeIouHead && k.startsWith('mask_decoder.iou_prediction_head.')) && !isUnusedMaskTokenKey(k, a.classes ? 1 : a.maskTokens),
  );
}
