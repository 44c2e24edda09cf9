/**
 * `adapters/inject`: takes a SAM model, injects one PEFT method and returns the adapted model.
 * Swapping LoRA for Conv-LoRA in a pipeline is changing this node's `method` param. Injection
 * happens once, on the first item; the trainable-parameter report goes out as a log event.
 *
 * `initFrom` is a warm start: the adapter's weights come from a saved adapter checkpoint, the
 * run itself starts anew. Its state in a run's checkpoints is an ordinary adapter checkpoint
 * (`<dir>/<node>.safetensors` + `.json`), so a checkpoint folder's adapter loads anywhere an
 * adapter path is taken. Restoring one whose config differs from this node's is an error that
 * lists the differences: a resumed run must be the same function.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { SamModelPort } from '../ports.ts';
import type { SamModel } from '../sam/model.ts';
import { trainableVariables } from '../sam/model.ts';
import { applyAdapterCheckpoint, readAdapterCheckpoint, saveAdapterCheckpoint, type AdapterCheckpoint } from './checkpoint.ts';
import { AdapterConfigSchema, parseAdapterConfig, type AdapterConfig } from './config.ts';
import { injectAdapter } from './inject.ts';
import { formatReport, parameterReport } from './report.ts';

export const InjectAdapterParams = AdapterConfigSchema.extend({
  initFrom: z.string().optional().describe('an adapter checkpoint path (without extension) whose weights to start from: a warm start, not a resume'),
});

/** The config keys whose values differ, as `key: saved → here`. */
function differences(saved: AdapterConfig, here: AdapterConfig): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(here)]) as Set<keyof AdapterConfig>;
  return [...keys]
    .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(here[k]))
    .map((k) => `${k}: ${JSON.stringify(saved[k])} → ${JSON.stringify(here[k])}`);
}

export const InjectAdapter = defineNode({
  kind: 'adapters/inject',
  description: 'inject a PEFT method (LoRA, Conv-LoRA, Adapter, SSF, VPT, SAM-Adapter, LST, BitFit, decoder-only, full) into a SAM model',
  placement: 'worker',
  inputs: { model: SamModelPort },
  outputs: { model: SamModelPort },
  params: InjectAdapterParams,
  worker: {
    create: async (p, ctx) => {
      const { initFrom, ...adapter } = p;
      const config: AdapterConfig = adapter;
      let start: AdapterCheckpoint | undefined = initFrom ? await readAdapterCheckpoint(initFrom) : undefined;
      if (start && start.manifest.method !== config.method) {
        throw new Error(`${initFrom} holds a ${start.manifest.method} adapter, but this node injects ${config.method}`);
      }
      // The saved weights fix the adapter's shape; only the seed of a fresh initialisation may differ.
      const changed = start ? differences({ ...parseAdapterConfig(start.manifest.adapter, `${initFrom}.json`), seed: config.seed }, config) : [];
      if (changed.length) throw new Error(`${initFrom}.json holds an adapter with another config than this node's (${changed.join('; ')}); warm-start with the same settings, or train afresh`);
      let adapted: SamModel | undefined;
      return {
        forward: ({ model }) => {
          if (adapted && adapted !== model) throw new Error('received a different SAM model than on the first item; a model is injected once');
          if (!adapted) {
            if (start) applyAdapterCheckpoint(model, start);
            else injectAdapter(model, config);
            adapted = model;
            const report = parameterReport(model.config, config);
            ctx.emit({ type: 'log', message: `${start ? `adapter weights from ${start.path}\n` : ''}${formatReport(report)}`, data: report });
            start = undefined;
          }
          return { model };
        },
        variables: () => (adapted ? trainableVariables(adapted) : []),
        state: {
          save: (dir) => {
            if (adapted) saveAdapterCheckpoint(adapted, config, join(dir, ctx.node));
          },
          restore: async (dir) => {
            if (adapted) throw new Error('cannot restore a checkpoint into an adapter that has already been injected');
            const saved = await readAdapterCheckpoint(join(dir, ctx.node));
            const changed = differences(parseAdapterConfig(saved.manifest.adapter, `${saved.path}.json`), config);
            if (changed.length) {
              throw new Error(`${saved.path}.json was saved with another adapter config than this graph's (${changed.join('; ')}); a resumed run keeps its config`);
            }
            start = saved;
          },
        },
      };
    },
  },
});
