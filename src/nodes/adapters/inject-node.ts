/**
 * `adapters/inject`: takes a SAM model, injects one PEFT method and returns the adapted model.
 * Swapping LoRA for Conv-LoRA in a pipeline is changing this node's `method` param. Injection
 * happens once, on the first item; the trainable-parameter report goes out as a log event.
 *
 * `resumeFrom` starts from a saved adapter checkpoint instead of a fresh initialisation.
 * `saveTo` writes an adapter checkpoint `<saveTo>/epoch-N` after each training epoch: on the
 * first item after it (validation, or the next epoch), when every update of the epoch has been
 * applied. A run that fails (a NaN loss) keeps the last complete checkpoint.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { SamModelPort } from '../ports.ts';
import type { SamModel } from '../sam/model.ts';
import { trainableVariables } from '../sam/model.ts';
import { applyAdapterCheckpoint, readAdapterCheckpoint, saveAdapterCheckpoint, type AdapterCheckpoint } from './checkpoint.ts';
import { AdapterConfigSchema, type AdapterConfig } from './config.ts';
import { injectAdapter } from './inject.ts';
import { formatReport, parameterReport } from './report.ts';

export const InjectAdapterParams = AdapterConfigSchema.extend({
  saveTo: z.string().optional().describe('folder for an adapter checkpoint after each training epoch (epoch-N.safetensors + .json)'),
  resumeFrom: z.string().optional().describe('an adapter checkpoint path (without extension) to start from'),
});

export const InjectAdapter = defineNode({
  kind: 'adapters/inject',
  description: 'inject a PEFT method (LoRA, Conv-LoRA, Adapter, SSF, VPT, BitFit, decoder-only, full) into a SAM model',
  placement: 'worker',
  inputs: { model: SamModelPort },
  outputs: { model: SamModelPort },
  params: InjectAdapterParams,
  worker: {
    create: async (p, ctx) => {
      const { saveTo, resumeFrom, ...adapter } = p;
      const resume: AdapterCheckpoint | undefined = resumeFrom ? await readAdapterCheckpoint(resumeFrom) : undefined;
      if (resume && resume.manifest.method !== adapter.method) {
        throw new Error(`${resumeFrom} holds a ${resume.manifest.method} adapter, but this node injects ${adapter.method}`);
      }
      let adapted: SamModel | undefined;
      let config: AdapterConfig = adapter;
      let trainedEpoch: number | undefined;
      return {
        forward: ({ model }, step) => {
          if (adapted && adapted !== model) throw new Error('received a different SAM model than on the first item; a model is injected once');
          if (!adapted) {
            if (resume) config = applyAdapterCheckpoint(model, resume).adapter;
            else injectAdapter(model, config);
            adapted = model;
            const report = parameterReport(model.config, config);
            ctx.emit({ type: 'log', message: `${resume ? `resumed from ${resumeFrom}\n` : ''}${formatReport(report)}`, data: report });
          }
          if (step.dryRun) return { model };
          const epochDone = trainedEpoch !== undefined && (step.meta.split !== 'train' || step.meta.epoch > trainedEpoch);
          if (saveTo && epochDone) {
            const path = join(saveTo, `epoch-${trainedEpoch! + 1}`);
            saveAdapterCheckpoint(model, config, path);
            ctx.emit({ type: 'log', message: `saved adapter checkpoint ${path}` });
          }
          if (epochDone) trainedEpoch = undefined;
          if (step.training) trainedEpoch = step.meta.epoch;
          return { model };
        },
        variables: () => (adapted ? trainableVariables(adapted) : []),
      };
    },
  },
});
