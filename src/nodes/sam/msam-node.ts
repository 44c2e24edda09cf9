/**
 * `sam/msam`: the multi-task mSAM of TA-LoRA (spec ta-lora.md §2). No prompt encoder tokens; a
 * no-mask embedding table of Σ C_t rows and one mask decoder per task, all initialised from the
 * model's checkpoint and trained by this node (its `variables`); the encoder runs once per task
 * with that task's TA-LoRA update (any other adapter: once, shared). Each task's head output
 * leaves on the port of its kind, at the input images' size; a kind the task list lacks gives
 * undefined there. `orth` carries the TA-LoRA orthogonality regulariser R_orth (0 without
 * TA-LoRA), to be weighted by losses/weighted-sum.
 *
 * The model's own decoder is not used: inject adapters with trainDecoder false. The node's
 * trained state is `<dir>/<node>.safetensors` + `.json` in a run's checkpoints.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { isTaLora, orthogonalityLoss } from '../adapters/ta-lora/inject.ts';
import { ClassLogits, DepthBatch, ImageBatch, Loss, MaskLogits, NormalBatch, SamModelPort } from '../ports.ts';
import { mixSeed } from '../random.ts';
import { encodeSafetensors, openSafetensors } from './checkpoint/safetensors.ts';
import type { SamModel } from './model.ts';
import { createMsamHeads, disposeMsamHeads, msamHeadParameters, type MsamHeads } from './msam/decoders.ts';
import { msamForward } from './msam/forward.ts';
import { NYUV2_TASKS, parseTasks, TaskSpecSchema, type TaskKind, type TaskSpec } from './msam/tasks.ts';

const MSAM_FORMAT = 'samflow-msam@1';

export const MsamParams = z.object({
  tasks: z
    .array(TaskSpecSchema)
    .min(1)
    .default(() => NYUV2_TASKS.map((t) => TaskSpecSchema.parse(t)))
    .describe('the tasks, in order: {name, kind, channels, loss?, weight}; default NYUv2 (13-class seg, depth, normals at 1 : 1 : 4)'),
  normalize: z.boolean().default(false).describe("SAM's pixel mean/std on the [0, 1] images (the released script skips it: ignore_preprocess)"),
  batchedTasks: z.boolean().default(false).describe('one encoder pass over the batch tiled task-major instead of one pass per task (same outputs; the released eval path)'),
  initFrom: z.string().optional().describe("trained heads to start from: a checkpoint's <dir>/<node> path without extension (evaluation, prediction, warm start)"),
});

/** The output port of each task kind. */
const PORT_OF: Record<TaskKind, 'seg' | 'depth' | 'normals' | 'binary'> = { segmentation: 'seg', depth: 'depth', normals: 'normals', binary: 'binary' };

interface SavedHeads {
  readonly manifest: { readonly format: string; readonly tasks: unknown };
  readonly tensors: Map<string, { shape: readonly number[]; data: Float32Array }>;
  readonly path: string;
}

/** Reads `<path>.json` + `.safetensors` as saved by the node, checking the format and that the tasks are `tasks`. */
async function readSavedHeads(path: string, tasks: readonly TaskSpec[], node: string): Promise<SavedHeads> {
  let manifest: SavedHeads['manifest'];
  try {
    manifest = JSON.parse(await readFile(`${path}.json`, 'utf8')) as SavedHeads['manifest'];
  } catch (error) {
    throw new Error(`${path}.json: cannot read node '${node}''s saved heads (${error instanceof Error ? error.message : String(error)})`);
  }
  if (manifest.format !== MSAM_FORMAT) throw new Error(`${path}.json: format '${String(manifest.format)}' is not ${MSAM_FORMAT}`);
  if (JSON.stringify(parseTasks(manifest.tasks, `${path}.json`)) !== JSON.stringify(tasks)) {
    throw new Error(`${path}.json was saved with other tasks (${JSON.stringify(manifest.tasks)}) than this node's (${JSON.stringify(tasks)}); a resumed run keeps its tasks`);
  }
  const file = await openSafetensors(`${path}.safetensors`);
  try {
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [key, entry] of file.entries) tensors.set(key, { shape: entry.shape, data: await entry.read() });
    return { manifest, tensors, path };
  } finally {
    await file.close();
  }
}

export const MsamNode = defineNode({
  kind: 'sam/msam',
  description: 'multi-task mSAM: no prompts, per-task no-mask embeddings (one row per output channel) and mask decoders, encoder once per task',
  placement: 'worker',
  inputs: { model: SamModelPort, images: ImageBatch },
  outputs: { seg: ClassLogits, depth: DepthBatch, normals: NormalBatch, binary: MaskLogits, orth: Loss },
  params: MsamParams,
  worker: {
    create: async (p, ctx) => {
      const where = `node '${ctx.node}' param 'tasks'`;
      const tasks = parseTasks(p.tasks, where);
      const kinds = new Map<TaskKind, string>();
      for (const t of tasks) {
        const earlier = kinds.get(t.kind);
        if (earlier) throw new Error(`${where}: tasks '${earlier}' and '${t.name}' are both ${t.kind}, but the node has one output port per kind ('${PORT_OF[t.kind]}')`);
        kinds.set(t.kind, t.name);
      }
      let heads: MsamHeads | undefined;
      let owner: SamModel | undefined;
      let pending: SavedHeads | undefined = p.initFrom ? await readSavedHeads(p.initFrom, tasks, ctx.node) : undefined;

      const build = (model: SamModel): MsamHeads => {
        const trained = [...model.unfrozen.keys()].filter((k) => k.startsWith('mask_decoder.'));
        if (trained.length) {
          throw new Error(`node '${ctx.node}' trains one mask decoder per task, but the model's own decoder is trainable too (${trained.length} tensors, e.g. '${trained[0]}'): inject the adapter with trainDecoder false`);
        }
        const built = createMsamHeads(model, tasks);
        if (pending) {
          const missing = [...built.variables.keys()].filter((k) => !pending!.tensors.has(k));
          const unexpected = [...pending.tensors.keys()].filter((k) => !built.variables.has(k));
          const mismatched = [...built.variables].filter(([k, v]) => pending!.tensors.has(k) && pending!.tensors.get(k)!.shape.join() !== v.shape.join()).map(([k]) => k);
          if (missing.length || unexpected.length || mismatched.length) {
            disposeMsamHeads(built);
            throw new Error(`${pending.path}.safetensors does not fit node '${ctx.node}': missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}], shape mismatch [${mismatched.join(', ')}]`);
          }
          for (const [k, v] of built.variables) tf.tidy(() => v.assign(tf.tensor(pending!.tensors.get(k)!.data, [...v.shape])));
          pending = undefined;
        }
        const rows = built.noMask.shape[0]!;
        ctx.emit({ type: 'log', message: `mSAM: ${tasks.length} task decoders and ${rows} no-mask embedding rows, ${msamHeadParameters(built).toLocaleString('en-US')} trainable parameters (${tasks.map((t) => `${t.name}: ${t.kind} × ${t.channels}`).join(', ')})` });
        return built;
      };

      return {
        forward: ({ model, images }, step) => {
          if (owner && owner !== model) throw new Error(`node '${ctx.node}' received a different SAM model than on the first item; its decoders were copied from the first`);
          if (!heads) {
            heads = build(model);
            owner = model;
          }
          const seed = mixSeed(ctx.seed, step.meta.epoch, step.meta.index);
          for (const adapter of model.adapters) adapter.beginStep?.(step.training, seed);
          const outputs = msamForward(model, heads, images, { normalize: p.normalize, batched: p.batchedTasks });
          const ports: Record<'seg' | 'depth' | 'normals' | 'binary', tf.Tensor4D | undefined> = { seg: undefined, depth: undefined, normals: undefined, binary: undefined };
          tasks.forEach((t, i) => (ports[PORT_OF[t.kind]] = outputs[i]));
          for (const adapter of model.adapters) adapter.endStep?.();
          const orth = model.adapters.some(isTaLora) ? orthogonalityLoss(model) : (tf.scalar(0) as tf.Scalar);
          return { ...(ports as Record<keyof typeof ports, tf.Tensor4D>), orth };
        },
        variables: () => (heads ? [...heads.variables.values()] : []),
        state: {
          save: (dir) => {
            if (!heads) return;
            const path = join(dir, ctx.node);
            const data = new Map([...heads.variables].map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }]));
            mkdirSync(dir, { recursive: true });
            writeFileSync(`${path}.safetensors.tmp`, encodeSafetensors(data, { format: MSAM_FORMAT }));
            writeFileSync(`${path}.json.tmp`, `${JSON.stringify({ format: MSAM_FORMAT, tasks }, null, 2)}\n`);
            renameSync(`${path}.safetensors.tmp`, `${path}.safetensors`);
            renameSync(`${path}.json.tmp`, `${path}.json`);
          },
          restore: async (dir) => {
            if (heads) throw new Error(`node '${ctx.node}': cannot restore a checkpoint after its decoders were built`);
            pending = await readSavedHeads(join(dir, ctx.node), tasks, ctx.node);
          },
        },
        dispose: () => {
          if (heads) disposeMsamHeads(heads);
        },
      };
    },
  },
});
