/**
 * The run lifecycle: checkpoints, model selection, early stopping, graceful stop, and resumes
 * (in-process after an abort, and after a real `kill -9` of the CLI) that reproduce the
 * uninterrupted run bit for bit.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { resume, train, type TrainRequest } from '../../src/api/training.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { tempDir } from '../fixtures/datasets.ts';

const REPO = resolve(import.meta.dirname, '../..');

/** A pipeline module of a user's own: the built-in binary pipeline on a tiny SAM, with accumulation. */
function writeTinyPipeline(dir: string): string {
  const file = join(dir, 'tiny-pipeline.ts');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    file,
    `import { definePipeline, z } from '${REPO}/src/index.ts';
import { convLoraBinary } from '${REPO}/pipelines/conv-lora-binary.ts';
import { SAM_PRESETS } from '${REPO}/src/nodes/sam/config.ts';

const TINY = { ...SAM_PRESETS.vit_b, image_size: 32, patch_size: 4, encoder_embed_dim: 32, encoder_depth: 2, encoder_num_heads: 2,
  encoder_global_attn_indexes: [1], window_size: 4, prompt_embed_dim: 32, decoder_mlp_dim: 64, decoder_num_heads: 2, iou_head_hidden_dim: 32 };

export default definePipeline({
  name: 'tiny-binary',
  description: 'Conv-LoRA binary on a tiny SAM',
  options: z.object({ epochs: z.number().int().default(3), lr: z.number().default(1e-2) }).strict(),
  control: { monitor: 'sm', mode: 'max' },
  build: (o) => convLoraBinary({ arch: TINY, train: 12, val: 4, batchSize: 2, accumulate: 2, schedule: 'polynomial', epochs: o.epochs, lr: o.lr }),
});
`,
  );
  return file;
}

const all = (events: import('rxjs').Observable<RunEvent>) => lastValueFrom(events.pipe(toArray()));
const bytes = (dir: string, file: string) => readFileSync(join(dir, file));
const lastCheckpoint = (run: string) => join(run, 'checkpoints', (JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8')) as { checkpoint: string }).checkpoint);

/** The trained state a run ends with: adapter weights and optimiser moments, as saved. */
function finalState(run: string): Buffer[] {
  const dir = lastCheckpoint(run);
  return ['peft.safetensors', 'optimizer.safetensors', 'optimizer.json'].map((f) => bytes(dir, f));
}

describe('train and resume', () => {
  it('a run stopped partway (Ctrl-C) and resumed ends with exactly the uninterrupted run’s weights', async () => {
    const dir = tempDir('samflow-resume-');
    const pipeline = writeTinyPipeline(dir);
    const base: TrainRequest = { pipeline, control: { checkpointEvery: 4 } };
    const whole = await train({ ...base, out: join(dir, 'whole') });
    const wholeEvents = await all(whole.events);
    expect(wholeEvents.at(-1)).toMatchObject({ type: 'finished', items: 3 * 16 });

    // Stop in epoch 2 after 4 of its training items: mid-epoch, between two accumulated batches.
    const controller = new AbortController();
    const part = await train({ ...base, out: join(dir, 'part'), signal: controller.signal });
    let trained = 0;
    const partEvents = await all(
      part.events.pipe(
        filter((e) => {
          if (e.type === 'progress' && e.split === 'train' && e.epoch === 1 && ++trained === 3) controller.abort('test stop');
          return true;
        }),
      ),
    );
    const finished = partEvents.at(-1) as Extract<RunEvent, { type: 'finished' }>;
    expect(finished).toMatchObject({ type: 'finished', stopped: 'test stop' });
    expect(finished.items).toBeLessThan(3 * 16);
    const stoppedAt = JSON.parse(readFileSync(join(lastCheckpoint(part.dir), 'run-state.json'), 'utf8')) as { position: { items: number; groupItems: number }; ended: unknown };
    expect(stoppedAt.position.groupItems % 2).toBe(0); // a whole batch
    expect(stoppedAt.ended).toEqual({ complete: false, reason: 'test stop' });

    const resumed = await resume(part.dir);
    const resumedEvents = await all(resumed.events);
    expect(resumedEvents.at(-1)).toMatchObject({ type: 'finished', items: 3 * 16 });
    expect(resumedEvents.find((e) => e.type === 'log' && e.message.startsWith('resuming from'))).toBeDefined();
    expect(finalState(part.dir)).toEqual(finalState(whole.dir));
    // Restoring leaks nothing: the worker's live tensors in the last epoch are those of the uninterrupted run
    // (they alternate with the half-gathered accumulation, and grow only when an expert first gets moments).
    const tensors = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'progress' && e.epoch === 2 && e.tensors !== undefined ? [e.tensors] : []));
    expect(tensors(resumedEvents)).toHaveLength(8); // 6 training + 2 validation batches
    expect(tensors(resumedEvents)).toEqual(tensors(wholeEvents));
    // The same optimiser updates, in the same order, with the same learning rates.
    const lrs = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'metric' && e.name === 'lr' ? [[e.step, e.value]] : []));
    expect([...lrs(partEvents), ...lrs(resumedEvents)]).toEqual(lrs(wholeEvents));
    await expect(resume(part.dir)).rejects.toThrow(/the run has ended \(all epochs done\); nothing to resume/);
  });

  it('a CLI run killed with kill -9 resumes from its last checkpoint to the same weights', async () => {
    const dir = tempDir('samflow-kill-');
    const pipeline = writeTinyPipeline(dir);
    const cli = (...args: string[]) => spawn(process.execPath, [join(REPO, 'bin/samflow.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = (child: ReturnType<typeof cli>) => new Promise<number | null>((done) => child.on('exit', (code, signal) => done(signal ? null : code)));

    const whole = cli('train', pipeline, '--out', 'whole', '--checkpoint-every', '4', '--json');
    expect(await exit(whole)).toBe(0);

    const killed = cli('train', pipeline, '--out', 'killed', '--checkpoint-every', '4', '--json');
    let output = '';
    await new Promise<void>((done) =>
      killed.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // The second checkpoint is on disk: kill the process wherever it is now.
        if ((output.match(/"type":"checkpoint"/g) ?? []).length >= 2) {
          killed.kill('SIGKILL');
          done();
        }
      }),
    );
    expect(await exit(killed)).toBeNull();
    expect(existsSync(join(dir, 'killed', 'checkpoints', 'last.json'))).toBe(true);

    const resumed = cli('resume', 'killed', '--json');
    let err = '';
    resumed.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    expect(await exit(resumed), err).toBe(0);
    expect(finalState(join(dir, 'killed'))).toEqual(finalState(join(dir, 'whole')));
    // The report shows the run once: the killed attempt's items after its checkpoint were done again.
    const table = (run: string) => readFileSync(join(dir, run, 'report.html'), 'utf8').match(/<h2>Metrics[\s\S]*?<\/table>/)![0];
    expect(table('killed')).toBe(table('whole'));
    expect(readFileSync(join(dir, 'killed', 'report.html'), 'utf8')).toMatch(/finished: 48 items in [\d.]+ s · resumed 1 time\(s\)/);
  });

  it('Ctrl-C on the CLI finishes the step, writes a checkpoint and the report, exits 130, and resume continues', async () => {
    const dir = tempDir('samflow-sigint-');
    const pipeline = writeTinyPipeline(dir);
    const child = spawn(process.execPath, [join(REPO, 'bin/samflow.js'), 'train', pipeline, '--out', 'run', '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      const before = out.includes('"type":"checkpoint"');
      out += chunk.toString();
      if (!before && out.includes('"type":"checkpoint"')) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    expect(code, err).toBe(130);
    expect(err).toContain('samflow: stopping after the current step (writing a checkpoint and the report); Ctrl-C again to exit at once');
    const finished = JSON.parse(out.trim().split('\n').at(-1)!) as RunEvent;
    expect(finished).toMatchObject({ type: 'finished', stopped: 'interrupted (Ctrl-C)' });
    expect(readFileSync(join(dir, 'run', 'report.html'), 'utf8')).toContain('stopped: interrupted (Ctrl-C)');
    const resumed = await resume(join(dir, 'run'));
    expect((await all(resumed.events)).at(-1)).toMatchObject({ type: 'finished', items: 3 * 16 });
  });

  it('keeps the best k checkpoints by the monitored metric plus the last, and points best at the top one', async () => {
    const dir = tempDir('samflow-bestk-');
    const started = await train({ pipeline: writeTinyPipeline(dir), options: { epochs: 4 }, control: { keep: 1 }, out: join(dir, 'run') });
    const events = await all(started.events);
    const sm = events.flatMap((e) => (e.type === 'metric' && e.name === 'sm' && e.split === 'val' ? [[e.epoch!, e.value] as const] : []));
    expect(sm).toHaveLength(4);
    const [bestEpoch] = [...sm].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]!;
    const best = JSON.parse(readFileSync(join(started.dir, 'checkpoints', 'best.json'), 'utf8')) as { checkpoint: string; value: number };
    expect(best).toMatchObject({ checkpoint: `epoch-${bestEpoch + 1}`, metric: 'val sm' });
    const present = readdirSync(join(started.dir, 'checkpoints')).filter((f) => !f.endsWith('.json')).sort();
    expect(present).toEqual([...new Set([`epoch-${bestEpoch + 1}`, 'epoch-4'])].sort());
    // The best checkpoint's adapter is an ordinary adapter checkpoint.
    expect(JSON.parse(readFileSync(join(started.dir, 'checkpoints', best.checkpoint, 'peft.json'), 'utf8'))).toMatchObject({ format: 'samflow-adapter@1', method: 'conv-lora' });
  });

  it('stops early when the monitored metric stops improving, and says why', async () => {
    const dir = tempDir('samflow-early-');
    // lr ~0: validation scores move by float rounding at most (the few weights below 1e-5 change
    // by an ulp; up or down depends on the backend), well under minDelta, so no epoch improves on the first.
    const started = await train({ pipeline: writeTinyPipeline(dir), options: { epochs: 6, lr: 1e-12 }, control: { patience: 2, minDelta: 1e-3 }, out: join(dir, 'run') });
    const events = await all(started.events);
    const finished = events.at(-1) as Extract<RunEvent, { type: 'finished' }>;
    expect(finished.stopped).toMatch(/^early stopping: val sm did not improve by more than 0\.001 for 2 validated epoch\(s\); best \d\.\d{4} at epoch 1$/);
    expect(finished.items).toBe(3 * 16);
    await expect(resume(started.dir)).rejects.toThrow(/the run has ended \(early stopping: .*\); nothing to resume/);
  });

  it('fails at the first validation when the monitored metric is not one the run reports', async () => {
    const dir = tempDir('samflow-monitor-');
    const started = await train({ pipeline: writeTinyPipeline(dir), options: { epochs: 2 }, control: { monitor: 'fscore' }, out: join(dir, 'run') });
    const failed = await firstValueFrom(started.events.pipe(filter((e) => e.type === 'failed')));
    expect(failed).toMatchObject({ error: "training control monitors 'fscore' on split 'val', but epoch 1 reported dice, iou, loss, mae, sm there; choose one of those with --monitor" });
  });

  it('a backend that cannot load fails before any run folder is written', async () => {
    const dir = tempDir('samflow-backend-');
    await expect(train({ pipeline: writeTinyPipeline(dir), backend: 'tfjs-node', out: join(dir, 'run') })).rejects.toThrow(/tfjs-node/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });

  it('a run that fails keeps its checkpoints and names the last one', async () => {
    const dir = tempDir('samflow-fails-');
    const file = join(dir, 'failing.ts');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      file,
      `import { definePipeline, GraphBuilder, nodes, z } from '${REPO}/src/index.ts';
import { Affine, Counter, Distance, FIXTURE_MODULE } from '${REPO}/test/fixtures/nodes.ts';
export default definePipeline({
  name: 'failing', description: 'fails in epoch 3', options: z.object({}).strict(),
  build: () => {
    const g = new GraphBuilder({ name: 'failing', modules: [FIXTURE_MODULE] });
    const src = g.add('src', Counter, { params: { count: 12, groupSize: 4, train: 12 } });
    const affine = g.add('affine', Affine, { params: { throwAt: 9 }, inputs: { vector: src.out.vector } });
    const loss = g.add('loss', Distance, { params: { target: 1 }, inputs: { vector: affine.out.vector } });
    g.add('optimizer', nodes.Adam, { params: { lr: 0.1 }, inputs: { loss: loss.out.loss } });
    return g.build();
  },
});
`,
    );
    const started = await train({ pipeline: file, out: join(dir, 'run') });
    const events = await all(started.events);
    expect(events.at(-1)).toMatchObject({
      type: 'failed',
      node: 'affine',
      error: `node 'affine' (kind test/affine) (worker segment 1) failed on item 9: affine refuses item 9; the last checkpoint is ${join(started.dir, 'checkpoints', 'epoch-2')}`,
    });
    // Nothing is validated, so no checkpoint is best: only the last is kept.
    expect(readdirSync(join(started.dir, 'checkpoints')).filter((f) => !f.endsWith('.json'))).toEqual(['epoch-2']);
    expect(readFileSync(join(started.dir, 'report.html'), 'utf8')).toContain('FAILED: node &#39;affine&#39;');
  });

  it('a run folder that cannot be created is an error before any work', async () => {
    const dir = tempDir('samflow-unwritable-');
    writeFileSync(join(dir, 'a-file'), '');
    const out = join(dir, 'a-file', 'run');
    await expect(train({ pipeline: writeTinyPipeline(dir), out })).rejects.toThrow(`${out}: cannot create the run folder (ENOTDIR: not a directory, mkdir '${out}/checkpoints'); choose another --out`);
  });

  it('never writes into an existing run folder', async () => {
    const dir = tempDir('samflow-exists-');
    const pipeline = writeTinyPipeline(dir);
    writeFileSync(join(dir, 'run.json'), '{}');
    await expect(train({ pipeline, out: dir })).rejects.toThrow(`${dir} already exists and holds a run; a run never overwrites another: choose another --out, or continue that run with: samflow resume ${dir}`);
    expect(readFileSync(join(dir, 'run.json'), 'utf8')).toBe('{}');
  });
});
