/**
 * Injects a PEFT method into a SAM model: adds the method's adapter (hooks + weights), turns the
 * base parameters it trains into variables, and returns the report of what trains.
 */
import type { InjectedAdapter, SamModel } from '../sam/model.ts';
import { buildClassHead } from '../sam/class-head.ts';
import { MASK_TOKENS, trainFirstMaskTokens } from '../sam/mask-tokens.ts';
import { makeTrainable } from '../sam/model.ts';
import type { AdapterConfig } from './config.ts';
import { injectConvLora } from './conv-lora/inject.ts';
import { injectHoulsby } from './houlsby/inject.ts';
import { injectLora } from './lora/inject.ts';
import { injectLst } from './lst/inject.ts';
import { parameterReport, unfrozenKeys, type ParameterReport } from './report.ts';
import { injectSamAdapter } from './sam-adapter/inject.ts';
import { injectSsf } from './ssf/inject.ts';
import { injectTaLora } from './ta-lora/inject.ts';
import { injectVpt } from './vpt/inject.ts';

type Injector = (model: SamModel, a: AdapterConfig) => InjectedAdapter;

const injectors = new Map<string, Injector>([
  ['lora', injectLora],
  ['conv-lora', injectConvLora],
  ['adapter', injectHoulsby],
  ['ssf', injectSsf],
  ['vpt', injectVpt],
  ['sam-adapter', injectSamAdapter],
  ['lst', injectLst],
  ['ta-lora', injectTaLora],
]);

/** Lets a method living elsewhere (Conv-LoRA) register itself; refuses duplicates. */
export function registerInjector(method: string, injector: Injector): void {
  if (injectors.has(method)) throw new Error(`adapter method '${method}' is already registered`);
  injectors.set(method, injector);
}

export function injectAdapter(model: SamModel, a: AdapterConfig): ParameterReport {
  const injector = injectors.get(a.method);
  if (injector) model.adapters.push(injector(model, a));
  else if (!['decoder-only', 'bitfit', 'full'].includes(a.method)) throw new Error(`adapter method '${a.method}' has no injector registered`);
  const keys = unfrozenKeys(model.config, a);
  makeTrainable(model, keys.filter((k) => k !== MASK_TOKENS));
  if (a.classes) buildClassHead(model, { queries: a.maskTokens, classes: a.classes, seed: a.seed, jitter: a.tokenJitter, trainTokens: keys.includes(MASK_TOKENS) });
  else if (keys.includes(MASK_TOKENS)) trainFirstMaskTokens(model, a.maskTokens);
  const report = parameterReport(model.config, a);
  // The formula and the live model must agree; if they drift, the report would lie.
  const live = model.adapters.reduce((n, ad) => n + [...ad.weights.values()].reduce((m, w) => m + w.size, 0), 0) + [...model.unfrozen.values()].reduce((n, v) => n + v.size, 0);
  if (live !== report.trainable) throw new Error(`adapter ${a.method}: ${live} trainable parameters in the model but the report counts ${report.trainable}`);
  return report;
}
