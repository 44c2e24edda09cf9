/**
 * The trainable-parameter report, like PEFT's print_trainable_parameters but per group, computed
 * from the config alone (no weights), so `samflow peft-report` works for vit_h on any machine.
 * Totals count the whole SAM checkpoint; of the decoder, only the first `maskTokens` mask tokens
 * and their hypernetwork MLPs can train (the official 1-token decoder drops the others).
 */
import type { SamConfig } from '../sam/config.ts';
import { classHeadShapes } from '../sam/class-head.ts';
import { checkMaskTokens, MASK_TOKENS } from '../sam/mask-tokens.ts';
import { officialShapes } from '../sam/params.ts';
import type { AdapterConfig } from './config.ts';
import { houlsbyTargets } from './houlsby/inject.ts';
import { lstParameters } from './lst/dims.ts';
import { decoderKeys, isUnusedMaskTokenKey, targetLinears } from './modules.ts';
import { samAdapterParameters } from './sam-adapter/config.ts';
import { ssfTargets } from './ssf/inject.ts';
import { taLoraTargets } from './ta-lora/inject.ts';
import { tuckerParameterCount } from './ta-lora/layer.ts';
import { vptBlocks } from './vpt/inject.ts';

export interface ParameterGroup {
  readonly name: string;
  readonly parameters: number;
  readonly trainable: number;
}

export interface ParameterReport {
  readonly method: string;
  readonly groups: readonly ParameterGroup[];
  readonly total: number;
  readonly trainable: number;
  /** trainable / total × 100 */
  readonly percent: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Parameters each method adds, by group name. */
function adapterParameters(c: SamConfig, a: AdapterConfig): number {
  const r = a.rank;
  switch (a.method) {
    case 'lora':
      return a.tasks * targetLinears(c, a).reduce((n, m) => n + r * (m.inDim + m.outDim), 0);
    case 'conv-lora': {
      const M = a.experts;
      return targetLinears(c, a).reduce((n, m) => n + r * m.inDim + m.outDim * r + 2 * r * M + M * (9 * r * r + r), 0);
    }
    case 'adapter': {
      const d = c.encoder_embed_dim;
      return houlsbyTargets(c.encoder_depth, a.layers).length * (d * r + r + r * d + d);
    }
    case 'vpt':
      return vptBlocks(c.encoder_depth, a.layers).length * a.promptTokens * c.encoder_embed_dim;
    case 'ssf':
      return [...ssfTargets({ config: c }).values()].reduce((n, dim) => n + 2 * dim, 0);
    case 'sam-adapter':
      return samAdapterParameters(c, a);
    case 'lst':
      return lstParameters(c, a);
    case 'ta-lora':
      return taLoraTargets(c, a).reduce((n, m) => n + tuckerParameterCount(m.inDim, m.updateDim, a.tasks, a.tuckerRanks), 0);
    default:
      return 0;
  }
}

/** Base parameters a method makes trainable (of the mask-token table, only the first `maskTokens` rows). */
export function unfrozenKeys(c: SamConfig, a: AdapterConfig): string[] {
  // A multi-class decoder rebuilds its table with maskTokens rows; the binary one runs the checkpoint's first.
  if (!a.classes) checkMaskTokens(c, a.maskTokens, 'adapter config maskTokens');
  if (a.classes === 1) throw new Error('adapter config classes: 1 class is binary segmentation; a class head needs 2 or more (0: the binary decoder)');
  const keys = new Set<string>();
  if (a.method === 'full') for (const k of officialShapes(c).keys()) if (!isUnusedMaskTokenKey(k, a.classes ? 1 : a.maskTokens)) keys.add(k);
  if (a.method === 'bitfit') for (const k of officialShapes(c).keys()) if (k.startsWith('image_encoder.') && k.endsWith('.bias')) keys.add(k);
  if (a.trainDecoder || a.method === 'decoder-only') for (const k of decoderKeys(c, a)) keys.add(k);
  // The released TA-LoRA code trains every parameter named `norm`: in the encoder, the blocks' norm1 / norm2 (the neck's are neck.1 / neck.3).
  if (a.trainEncoderNorms ?? a.method === 'ta-lora') for (const k of officialShapes(c).keys()) if (/^image_encoder\.blocks\.\d+\.norm[12]\./.test(k)) keys.add(k);
  return [...keys];
}

export function parameterReport(c: SamConfig, a: AdapterConfig): ParameterReport {
  const shapes = officialShapes(c);
  const unfrozen = new Set(unfrozenKeys(c, a));
  const groups: ParameterGroup[] = [];
  for (const [name, prefix] of [['image encoder', 'image_encoder.'], ['prompt encoder', 'prompt_encoder.'], ['mask decoder', 'mask_decoder.']] as const) {
    let parameters = 0;
    let trainable = 0;
    for (const [key, shape] of shapes) {
      if (!key.startsWith(prefix)) continue;
      parameters += size(shape);
      if (unfrozen.has(key)) trainable += key === MASK_TOKENS ? a.maskTokens * shape[1]! : size(shape);
    }
    if (prefix === 'mask_decoder.' && a.classes) {
      // The multi-class decoder as built: a table of maskTokens rows instead of the checkpoint's, and the class head (always trained).
      const table = shapes.get(MASK_TOKENS)!;
      const head = [...classHeadShapes(c, a.classes).values()].reduce((n, s) => n + size(s), 0);
      parameters += (a.maskTokens - table[0]!) * table[1]! + head;
      trainable += head;
    }
    groups.push({ name, parameters, trainable });
  }
  const added = adapterParameters(c, a);
  if (added) groups.push({ name: `${a.method} adapters`, parameters: added, trainable: added });
  const total = groups.reduce((n, g) => n + g.parameters, 0);
  const trainable = groups.reduce((n, g) => n + g.trainable, 0);
  return { method: a.method, groups, total, trainable, percent: (100 * trainable) / total };
}

export function formatReport(r: ParameterReport): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const lines = r.groups.map(
    (g) => `  ${g.name.padEnd(22)} ${fmt(g.parameters).padStart(13)} params, ${fmt(g.trainable).padStart(11)} trainable (${((100 * g.trainable) / r.total).toFixed(4)} % of all)`,
  );
  return [`method ${r.method}`, ...lines, `trainable params: ${fmt(r.trainable)} || all params: ${fmt(r.total)} || trainable%: ${r.percent.toFixed(4)}`].join('\n');
}
