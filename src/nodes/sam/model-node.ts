/**
 * `sam/model`: builds a SAM model in the worker, from a checkpoint or (for the built-in default
 * and for tests) seeded random weights. Its output is the same model object on every item.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { SamModelPort } from '../ports.ts';
import { mixSeed } from '../random.ts';
import { fileSha256 } from '../adapters/checkpoint.ts';
import { describeRandom, loadSamCheckpoint } from './checkpoint/load.ts';
import { resolveSamConfig } from './config.ts';
import { createSamModel, disposeModel, type SamModel } from './model.ts';
import { randomSamParams } from './params.ts';

export const SamModelNode = defineNode({
  kind: 'sam/model',
  description: 'a SAM model from an official .pth / HF .safetensors checkpoint, or seeded random weights',
  placement: 'worker',
  inputs: {},
  outputs: { model: SamModelPort },
  params: z.object({
    arch: z.union([z.string(), z.record(z.string(), z.unknown())]).default('vit_b').describe('a preset (vit_b, vit_l, vit_h) or a config object with the official builder keys'),
    checkpoint: z.string().optional().describe('weights file; without it the weights are random (seeded)'),
    allowPartial: z.boolean().default(false).describe('load what matches and keep the rest random'),
    seed: z.number().int().default(0).describe('seed of the random weights'),
  }),
  worker: {
    create: async (p, ctx) => {
      const config = resolveSamConfig(p.arch, `node '${ctx.node}' param 'arch'`);
      let model: SamModel;
      if (p.checkpoint) {
        // In a graph the user sets params, not flags: name both ways (the built-in pipeline's option, the param).
        const hint = `Check the arch against the checkpoint, or load what matches with --set allowPartial=true on samflow train/run (param 'allowPartial' of node '${ctx.node}' in a graph of your own).`;
        const { params, report } = await loadSamCheckpoint(p.checkpoint, config, { allowPartial: p.allowPartial, seed: p.seed, hint });
        model = createSamModel(config, params, await fileSha256(p.checkpoint));
        const random = describeRandom(report);
        ctx.emit({ type: 'log', message: `loaded ${report.loaded} tensors from ${p.checkpoint} (${report.format}, ${report.naming} names)${random ? `; ${random}` : ''}`, data: report });
      } else {
        const seed = mixSeed(ctx.seed, p.seed);
        model = createSamModel(config, randomSamParams(config, seed), `random:${JSON.stringify(config)}:${seed}`);
      }
      return {
        forward: () => ({ model }),
        dispose: () => disposeModel(model),
      };
    },
  },
});
