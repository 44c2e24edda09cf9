/**
 * The task list of a multi-task mSAM, as data: each task names its kind (which head its output
 * gets), its output channels C_t (the rows of its slice of the no-mask embedding table, one
 * decoder pass each), the loss the pipeline gives it and that loss's weight. NYUv2 (spec
 * ta-lora.md §2.3, §3) and Cityscapes are presets; any other list works the same way.
 */
import { z } from 'zod';

export const TASK_KINDS = ['segmentation', 'depth', 'normals', 'binary'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** The loss each kind takes (the MTAN definitions), and its channel count where the kind fixes it. */
export const KIND_LOSS = { segmentation: 'cross-entropy', depth: 'depth-l1', normals: 'normal-cosine', binary: 'sigmoid-bce' } as const;
const KIND_CHANNELS: Partial<Record<TaskKind, number>> = { depth: 1, normals: 3, binary: 1 };

export const TaskSpecSchema = z
  .object({
    name: z.string().min(1).describe('task name (seg, depth, normal, ...)'),
    kind: z.enum(TASK_KINDS).describe('segmentation: log-softmax over classes; depth: raw value; normals: L2-normalised; binary: one logit map'),
    channels: z.number().int().positive().describe('output channels C_t: classes for segmentation, 1 for depth and binary, 3 for normals'),
    loss: z.enum(['cross-entropy', 'depth-l1', 'normal-cosine', 'sigmoid-bce']).optional().describe("the task's loss (default: its kind's)"),
    weight: z.number().min(0).default(1).describe('loss weight (NYUv2: seg : depth : normal = 1 : 1 : 4, normalised by their sum)'),
  })
  .strict();

export type TaskSpec = z.infer<typeof TaskSpecSchema> & { readonly loss: (typeof KIND_LOSS)[TaskKind] };

export const NYUV2_TASKS: readonly z.input<typeof TaskSpecSchema>[] = [
  { name: 'seg', kind: 'segmentation', channels: 13, weight: 1 },
  { name: 'depth', kind: 'depth', channels: 1, weight: 1 },
  { name: 'normal', kind: 'normals', channels: 3, weight: 4 },
];

/** Cityscapes (7 classes + inverse depth); the released code has no recipe, so equal weights (spec §3). */
export const CITYSCAPES_TASKS: readonly z.input<typeof TaskSpecSchema>[] = [
  { name: 'seg', kind: 'segmentation', channels: 7, weight: 1 },
  { name: 'depth', kind: 'depth', channels: 1, weight: 1 },
];

/** Parses and checks a task list; `where` names the node and param in errors. */
export function parseTasks(raw: unknown, where: string): TaskSpec[] {
  const parsed = z.array(TaskSpecSchema).min(1).safeParse(raw);
  if (!parsed.success) throw new Error(`${where}: ${parsed.error.issues.map((i) => `'${i.path.join('.') || '(tasks)'}': ${i.message}`).join('; ')}`);
  const names = new Set<string>();
  return parsed.data.map((t, i) => {
    if (names.has(t.name)) throw new Error(`${where}: task ${i} is named '${t.name}' like an earlier one; task names must be unique`);
    names.add(t.name);
    const fixed = KIND_CHANNELS[t.kind];
    if (fixed !== undefined && t.channels !== fixed) throw new Error(`${where}: task '${t.name}' is ${t.kind} with ${t.channels} channels, expected ${fixed}`);
    if (t.kind === 'segmentation' && t.channels < 2) throw new Error(`${where}: segmentation task '${t.name}' needs at least 2 classes, got ${t.channels}`);
    const loss = t.loss ?? KIND_LOSS[t.kind];
    if (loss !== KIND_LOSS[t.kind]) throw new Error(`${where}: task '${t.name}' (${t.kind}) takes the ${KIND_LOSS[t.kind]} loss, not ${loss}`);
    return { ...t, loss };
  });
}

/** The first row of each task's slice of the no-mask embedding table (its rows are offset .. offset + C_t − 1). */
export function taskOffsets(tasks: readonly TaskSpec[]): number[] {
  let offset = 0;
  return tasks.map((t) => {
    const start = offset;
    offset += t.channels;
    return start;
  });
}
