/**
 * The main job (pipelines/peft-comparison.ts) on a quickly pre-trained base and a small
 * domain-shifted synthetic set: Conv-LoRA and LoRA fine-tuned from the base beat the base without
 * fine-tuning on the held-out test split by a clear margin; the table, comparison.json, each
 * run's folder and evaluation and the report agree with each other; trainable counts are the
 * adapter report's for the same config. And every bad request fails before anything is written.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/graph/events.ts';
import { parseAdapterConfig } from '../../src/nodes/adapters/config.ts';
import { parameterReport } from '../../src/nodes/adapters/report.ts';
import { compareMethods, readComparison, type ComparisonOutcome } from '../../pipelines/peft-comparison.ts';
import { PRETRAIN_SAM } from '../../pipelines/sam-pretrain.ts';
import { captureCli, samflow } from '../cli/capture.ts';
import { tempDir, writeCamvid, writeKvasir } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'sam');

// A base pre-trained for 20 steps: enough to be a checkpoint of the real architecture, far from the
// cached default's 1,200 steps (its promptless forward is no better).
const QUICK_BASE = { epochs: 1, train: 160, val: 0, batchSize: 8 };
const SMALL_SET = { splits: { train: 64, val: 16, test: 32 } };

describe('the PEFT comparison (npm start)', () => {
  const root = tempDir('samflow-compare-');
  const cacheDir = join(root, 'cache');
  let outcome: ComparisonOutcome;
  const events = new Map<string, RunEvent[]>();

  beforeAll(async () => {
    outcome = await compareMethods({
      out: join(root, 'cmp'),
      methods: ['conv-lora', 'lora'],
      pretrain: QUICK_BASE,
      cacheDir,
      synthetic: SMALL_SET,
      options: { epochs: 5 },
      onEvent: (phase, e) => events.set(phase, [...(events.get(phase) ?? []), e]),
    });
    console.log(outcome.table);
  }, 300_000);

  it('fine-tuning from the base beats the base without fine-tuning, for Conv-LoRA and LoRA', () => {
    const [base, convLora, lora] = outcome.rows;
    expect(outcome.rows.map((r) => r.name)).toEqual(['base (no fine-tuning)', 'conv-lora', 'lora']);
    for (const tuned of [convLora!, lora!]) {
      const test = tuned.scores.test!;
      expect(test.iou, tuned.name).toBeGreaterThan(base!.scores.test!.iou! + 0.25);
      expect(test.dice, tuned.name).toBeGreaterThan(base!.scores.test!.dice! + 0.25);
      expect(test.sm, tuned.name).toBeGreaterThan(base!.scores.test!.sm! + 0.1);
      expect(test.mae, tuned.name).toBeLessThan(base!.scores.test!.mae!);
      // It learned: the training loss fell from the first epoch to the last.
      const losses = (events.get(tuned.name) ?? []).flatMap((e) => (e.type === 'metric' && e.name === 'loss' && e.split === 'train' ? [[e.epoch!, e.value] as const] : []));
      const mean = (epoch: number) => {
        const vs = losses.filter(([ep]) => ep === epoch).map(([, v]) => v);
        return vs.reduce((a, b) => a + b, 0) / vs.length;
      };
      expect(mean(4), tuned.name).toBeLessThan(0.8 * mean(0));
    }
  });

  it('scores on the held-out split what each run folder records, and counts the parameters the adapter trains', () => {
    for (const row of outcome.rows.slice(1)) {
      const evaluation = JSON.parse(readFileSync(join(row.run!, 'eval', 'compare-test', 'metrics.json'), 'utf8'));
      expect(evaluation.metrics).toEqual(row.scores.test);
      expect(evaluation.split).toBe('test');
      expect(evaluation.images).toBe(32);
      expect(existsSync(join(row.run!, 'report.html'))).toBe(true);
      // The pipeline's adapter (rank 3, 8 experts, one mask token) counted without any weights.
      const report = parameterReport(PRETRAIN_SAM, parseAdapterConfig({ method: row.method, rank: 3, experts: 8, maskTokens: 1 }, 'test'));
      expect(row.trainable).toBe(report.trainable);
      expect(row.trainSeconds).toBeGreaterThan(0);
    }
    const base = JSON.parse(readFileSync(join(outcome.out, 'base', 'eval', 'compare-test', 'metrics.json'), 'utf8'));
    expect(base.metrics).toEqual(outcome.rows[0]!.scores.test);
    expect(base.images).toBe(32);
    expect(readComparison(outcome.out).rows.map((r) => r.scores)).toEqual(outcome.rows.map((r) => r.scores));
    // The data set it wrote: paired folders with the three splits.
    for (const [split, n] of Object.entries(SMALL_SET.splits)) expect(readdirSync(join(outcome.out, 'data', split, 'masks'))).toHaveLength(n);
  });

  it('prints one table: method, trainable params, train time and the six metrics, with the values of the rows', () => {
    const lines = outcome.table.split('\n');
    expect(lines[1]!.split(/\s{2,}/)).toEqual(['method', 'trainable params', 'train time', 'IoU', 'Dice', 'Sα', 'Eφ', 'Fωβ', 'MAE']);
    const lora = lines.find((l) => l.startsWith('lora '))!.split(/\s{2,}/);
    const row = outcome.rows[2]!;
    expect(lora).toEqual(['lora', row.trainable!.toLocaleString('en-US'), `${row.trainSeconds!.toFixed(0)} s`, ...['iou', 'dice', 'sm', 'em', 'wfm', 'mae'].map((m) => row.scores.test![m]!.toFixed(4))]);
  });

  it('writes one report linking each run report, with the same test images under every row', () => {
    const html = readFileSync(outcome.report, 'utf8');
    expect(html).toContain('href="conv-lora/report.html"');
    expect(html).toContain('href="lora/report.html"');
    // 6 test images: image + truth + base + 2 methods each.
    expect(html.match(/<figure class="cell"><img /g)).toHaveLength(6 * 5);
    expect(html.match(/<svg class="chart"/g)!.length).toBeGreaterThanOrEqual(2);
    // Self-contained: no script, nothing loaded from anywhere (SVG namespaces are names, not loads).
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  });

  it('takes the base from the cache the second time, and never writes into an existing comparison', async () => {
    const phases: string[] = [];
    await expect(compareMethods({ out: outcome.out, methods: ['lora'], pretrain: QUICK_BASE, cacheDir, onEvent: (p) => phases.push(p) })).rejects.toThrow(/exists/);
    expect(phases).toEqual([]);
    const again = await compareMethods({ out: join(root, 'again'), methods: ['lora'], pretrain: QUICK_BASE, cacheDir, synthetic: { splits: { train: 8, val: 4, test: 4 } }, options: { epochs: 1 }, onEvent: (p) => phases.push(p) });
    expect(phases).not.toContain('pretrain');
    expect(again.rows.map((r) => r.name)).toEqual(['base (no fine-tuning)', 'lora']);
  }, 120_000);
});

describe('samflow compare with real weights and a data folder', () => {
  const captured = captureCli();

  it('reads the arch beside the checkpoint, uses the paper recipe, and scores the held-out val of a folder without test split', async () => {
    const root = tempDir('samflow-compare-pth-');
    const data = await writeKvasir(join(root, 'kvasir'), 10);
    const out = join(root, 'cmp');
    expect(await samflow('compare', '--checkpoint', join(FIXTURES, 'tiny.pth'), '--data', data, '--methods', 'lora', '--epochs', '1', '--quiet', '--out', out)).toBe(0);
    expect(captured.out).toContain(`note: ${data} has no test split: the table scores 'val' (20 % of 'train', held out by a seeded draw)`);
    expect(captured.out).toMatch(/held-out split 'val'/);
    const record = JSON.parse(readFileSync(join(out, 'lora', 'run.json'), 'utf8'));
    expect(record.options).toMatchObject({ method: 'lora', epochs: 1, checkpoint: join(FIXTURES, 'tiny.pth'), arch: join(FIXTURES, 'arch.json'), data });
    expect(record.options).not.toHaveProperty('recipe');
    // The paper's recipe with real weights: micro-batch 1, accumulation 4.
    const graph = JSON.parse(readFileSync(join(out, 'lora', 'graph.json'), 'utf8')) as { nodes: { name: string; params: Record<string, unknown> }[] };
    expect(graph.nodes.find((n) => n.name === 'batch')!.params).toMatchObject({ size: 1 });
    expect(graph.nodes.find((n) => n.name === 'optimizer')!.params).toMatchObject({ accumulate: 4, lr: 1e-4 });
    const rows = readComparison(out).rows;
    expect(rows.map((r) => r.name)).toEqual(['base (no fine-tuning)', 'lora']);
    expect(JSON.parse(readFileSync(join(out, 'lora', 'eval', 'compare-val', 'metrics.json'), 'utf8'))).toMatchObject({ split: 'val', images: 2 });
    expect(existsSync(join(out, 'data'))).toBe(false);
  }, 120_000);
});

describe('the PEFT comparison without the native addon', () => {
  it('runs end to end on wasm (a machine without a C++ compiler): pre-training, fine-tuning, evaluation', async () => {
    const root = tempDir('samflow-compare-wasm-');
    const backends = new Set<string>();
    const outcome = await compareMethods({
      out: join(root, 'cmp'),
      methods: ['conv-lora'],
      backend: 'wasm',
      pretrain: { arch: TINY_SAM, epochs: 1, train: 8, val: 0, batchSize: 4 },
      cacheDir: join(root, 'cache'),
      synthetic: { size: 32, splits: { train: 8, val: 4, test: 4 } },
      options: { epochs: 1 },
      onEvent: (_, e) => e.type === 'started' && backends.add(String(e.backend)),
    });
    expect(backends).toEqual(new Set(['wasm']));
    expect(outcome.rows.map((r) => [r.name, r.error])).toEqual([['base (no fine-tuning)', undefined], ['conv-lora', undefined]]);
    expect(Object.keys(outcome.rows[1]!.scores.test!).sort()).toEqual(['dice', 'em', 'iou', 'mae', 'sm', 'wfm']);
  }, 120_000);
});

describe('samflow compare: bad requests fail before anything is written', () => {
  const captured = captureCli();
  const root = tempDir('samflow-compare-errors-');

  const refuses = async (args: string[], message: RegExp) => {
    const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
    expect(await samflow('compare', '--out', out, ...args)).toBe(1);
    expect(captured.err).toMatch(message);
    expect(existsSync(out)).toBe(false);
  };

  it('names the flag and what it expected', async () => {
    await refuses(['--data', join(root, 'nowhere')], /--data .*nowhere: no such folder \(expected a binary segmentation data set/);
    await refuses(['--checkpoint', join(root, 'missing.pth')], /missing\.pth: no such file/);
    const weights = join(root, 'w', 'sam.safetensors');
    mkdirSync(join(root, 'w'));
    writeFileSync(weights, '');
    await refuses(['--checkpoint', weights], /say which architecture it is with --arch/);
    await refuses(['--checkpoint', weights, '--arch', 'vit_q'], /vit_q/);
    await refuses(['--arch', 'vit_b'], /--arch names the architecture of --checkpoint/);
    await refuses(['--methods', 'lora,nope'], /unknown method nope/);
    await refuses(['--methods', 'lora,lora'], /names a method twice/);
    await refuses(['--set', 'method=lora'], /--set method: the comparison sets it for each run \(use --methods\)/);
    const camvid = join(root, 'camvid');
    await writeCamvid(camvid, { train: 1, val: 1, test: 1 });
    await refuses(['--data', camvid], /no binary masks/);
  });

  it('refuses an existing comparison folder', async () => {
    const out = join(root, 'taken');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expect(await samflow('compare', '--out', out)).toBe(1);
    expect(captured.err).toMatch(/already exists and is not empty; a run never overwrites another: choose another --out/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
  });
});
