import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureCli, samflow } from './capture.ts';

const output = captureCli();

const tmp = () => mkdtempSync(join(tmpdir(), 'samflow-cli-'));

describe('samflow CLI', () => {
  it('runs a pipeline, says what it did, and writes a graph file that runs again', async () => {
    const dir = tmp();
    const small = ['--set', 'size=16', '--set', 'train=16', '--set', 'val=8', '--epochs', '1'];
    expect(await samflow('run', 'toy-segmentation', ...small, '--out', dir)).toBe(0);
    expect(output.out).toMatch(/running 'toy-segmentation' on (native|wasm|cpu|tfjs-node)/);
    expect(output.out).toMatch(/epoch 1: train (grad_norm \d+\.\d{4}, )?loss \d\.\d{4}, iou \d\.\d{4} \| val loss \d\.\d{4}, iou \d\.\d{4}/);
    expect(output.out).toMatch(/done: 24 items in/);
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(['log', 'started']); // the training control, then the run
    expect(events.at(-1)!.type).toBe('finished');
    const report = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(report).toContain('finished: 24 items');
    expect(report).toContain('<svg class="chart"');

    expect(await samflow('run', join(dir, 'graph.json'), '--out', join(dir, 'again'), '--json')).toBe(0);
    expect(output.out.trim().split('\n').at(-1)).toMatch(/^\{"type":"finished","items":24,/);
  });

  it('exports a pipeline as DOT, Mermaid, JSON and HTML', async () => {
    const dir = tmp();
    for (const format of ['dot', 'mermaid', 'json', 'html']) {
      expect(await samflow('graph', 'toy-segmentation', '--format', format, '--out', join(dir, `g.${format}`))).toBe(0);
    }
    expect(readFileSync(join(dir, 'g.dot'), 'utf8')).toMatch(/^digraph/);
    expect(readFileSync(join(dir, 'g.mermaid'), 'utf8')).toMatch(/^flowchart LR/);
    expect(JSON.parse(readFileSync(join(dir, 'g.json'), 'utf8'))).toHaveProperty('segments');
    expect(readFileSync(join(dir, 'g.html'), 'utf8')).toContain('<svg');
  });

  it('names an unknown pipeline and lists the built-in ones', async () => {
    expect(await samflow('run', 'nope')).toBe(1);
    expect(output.err).toBe("samflow: unknown pipeline 'nope': not a built-in pipeline (conv-lora-binary, conv-lora-multiclass, toy-segmentation, ta-lora-multitask, sam-pretrain), a pipeline module (.ts, .js) nor a graph .json file\n");
  });

  it('checks --set values against the pipeline options: "False" is not a number', async () => {
    expect(await samflow('run', 'toy-segmentation', '--set', 'epochs=False')).toBe(1);
    expect(output.err).toMatch(/^samflow: pipeline 'toy-segmentation': bad option 'epochs': .*expected number.*Options: epochs, size/);
    expect(await samflow('run', 'toy-segmentation', '--set', 'colour=2')).toBe(1);
    expect(output.err).toMatch(/Unrecognized key.*colour/);
  });

  it('names the file and both ports when a graph file connects the wrong types', async () => {
    const dir = tmp();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({
      name: 'bad',
      nodes: [
        { name: 'data', kind: 'data/synthetic-shapes', params: {}, inputs: {} },
        { name: 'batch', kind: 'data/batch', params: {}, inputs: { image: 'data.mask', mask: 'data.mask' } },
      ],
    }));
    expect(await samflow('graph', file, '--format', 'dot')).toBe(1);
    expect(output.err).toBe(`samflow: ${file} is not a valid graph:\n  - cannot connect 'data.mask' (BinaryMask) to 'batch.image' (expects Image)\n`);
    writeFileSync(file, '{"name": ');
    expect(await samflow('graph', file, '--format', 'dot')).toBe(1);
    expect(output.err).toMatch(new RegExp(`${file}: not valid JSON`));
  });

  it('rejects an unknown format with the allowed choices', async () => {
    expect(await samflow('graph', 'toy-segmentation', '--format', 'pdf')).toBe(2);
    expect(output.err).toMatch(/Allowed choices are mermaid, dot, html, json/);
  });
});
