/**
 * `adapters/inject`: takes a SAM model, injects one PEFT method and returns the adapted model.
 * Swapping LoRA for Conv-LoRA in a pipeline is changing this node's `method` param. Injection
 * happens once, on the first item; the trainable-parameter report goes out as a log event.
 */
import { defineNode } from '../../graph/node.ts';
import { SamModelPort } from '../ports.ts';
import type { SamModel } from '../sam/model.ts';
import { trainableVariables } from '../sam/model.ts';
import { AdapterConfigSchema } from './config.ts';
import { injectAdapter } from './inject.ts';
import { formatReport } from './report.ts';

export const InjectAdapter = defineNode({
  kind: 'adapters/inject',
  description: 'inject a PEFT method (LoRA, Conv-LoRA, Adapter, SSF, BitFit, decoder-only, full) into a SAM model',
  placement: 'worker',
  inputs: { model: SamModelPort },
  outputs: { model: SamModelPort },
  params: AdapterConfigSchema,
  worker: {
    create: (p, ctx) => {
      let adapted: SamModel | undefined;
      return {
        forward: ({ model }) => {
          if (adapted && adapted !== model) throw new Error('received a different SAM model than on the first item; a model is injected once');
          if (!adapted) {
            const report = injectAdapter(model, p);
            adapted = model;
            ctx.emit({ type: 'log', message: formatReport(report), data: report });
          }
          return { model };
        },
        variables: () => (adapted ? trainableVariables(adapted) : []),
      };
    },
  },
});
