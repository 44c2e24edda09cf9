import { describe, expect, it } from 'vitest';
import { instance } from '@viz-js/viz';
import { compile } from '../../src/graph/compile.ts';
import { exportGraph, exportModel, toDot, toHtml, toMermaid } from '../../src/graph/export/index.ts';
import { GraphBuilder } from '../../src/graph/graph.ts';
import { toySegmentation } from '../../pipelines/toy-segmentation.ts';
import { Counter, Delay, Sink } from '../fixtures/nodes.ts';

const toy = () => exportModel(compile(toySegmentation()));

describe('graph export', () => {
  it('reduces a compiled graph to nodes, typed edges and segments', () => {
    const model = toy();
    expect(model.graph).toEqual({ name: 'toy-segmentation', seed: 42 });
    expect(model.nodes.map((n) => `${n.name}:${n.placement}:${n.stage}`)).toEqual([
      'data:main:0', 'flip:main:1', 'batch:main:2', 'model:worker:3', 'loss:worker:3', 'optimizer:worker:3', 'iou:main:4',
    ]);
    expect(model.segments).toEqual([
      { id: '0', placement: 'main', nodes: ['data'] },
      { id: '1', placement: 'main', nodes: ['flip'] },
      { id: '2', placement: 'main', nodes: ['batch'] },
      { id: '3', placement: 'worker', nodes: ['model', 'loss', 'optimizer'] },
      { id: '4', placement: 'main', nodes: ['iou'] },
    ]);
    expect(model.edges).toHaveLength(10);
    expect(model.edges).toContainEqual({ from: { node: 'batch', port: 'images' }, to: { node: 'model', port: 'images' }, type: 'ImageBatch', transport: 'tensor' });
    expect(model.edges).toContainEqual({ from: { node: 'data', port: 'mask' }, to: { node: 'flip', port: 'mask' }, type: 'BinaryMask', transport: 'local' });
    expect(model.nodes.find((n) => n.name === 'optimizer')!.params).toEqual({ lr: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, clipNorm: 0, decaySteps: 0 });
  });

  it('Mermaid puts exactly the segment nodes in the worker subgraph and labels edges with ports and types', () => {
    const text = toMermaid(toy());
    const sub = text.slice(text.indexOf('subgraph'), text.indexOf('  end'));
    expect(sub.match(/n_\w+\[/g)).toEqual(['n_model[', 'n_loss[', 'n_optimizer[']);
    expect(sub).toContain('worker segment 3');
    expect(text).toContain('n_batch -->|"images → images : ImageBatch"| n_model');
    expect(text).toContain('n_loss -->|"loss → loss : Loss"| n_optimizer');
  });

  it('DOT clusters the worker segment and renders with Graphviz, showing every node', async () => {
    const dot = toDot(toy());
    expect(dot).toMatch(/^digraph "toy-segmentation" \{/);
    expect(dot).toContain('subgraph "cluster_3"');
    const svg = (await instance()).renderString(dot, { format: 'svg' });
    for (const name of ['data', 'flip', 'batch', 'model', 'loss', 'optimizer', 'iou']) expect(svg).toContain(`>${name}</text>`);
    expect(svg).toContain('>worker segment 3</text>');
  });

  it('escapes quotes and backslashes in names and descriptions', () => {
    const g = new GraphBuilder({ name: 'quote"s\\and\nlines' });
    const src = g.add('src', Counter, { params: { count: 1 } });
    const d = g.add('d', Delay, { inputs: { label: src.out.label } });
    g.add('sink', Sink, { inputs: { label: d.out.label } });
    const dot = toDot(exportModel(compile(g.build())));
    expect(dot.split('\n')[0]).toBe('digraph "quote\\"s\\\\and\\nlines" {');
  });

  it('HTML is self-contained: inline SVG, every node, no scripts or remote references', async () => {
    const html = await toHtml(toy());
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<svg');
    expect(html).not.toContain('<?xml');
    for (const name of ['data', 'flip', 'batch', 'model', 'loss', 'optimizer', 'iou']) expect(html).toContain(`<td>${name}</td>`);
    expect(html).not.toMatch(/<script|<link|@import|url\(/);
    const remote = [...html.matchAll(/https?:\/\/[^"'\s)]+/g)].map((m) => m[0]).filter((u) => !u.startsWith('http://www.w3.org/'));
    expect(remote).toEqual([]);
  });

  it('exportGraph serves each format from the same model', async () => {
    const compiled = compile(toySegmentation());
    expect(JSON.parse(await exportGraph(compiled, 'json'))).toEqual(JSON.parse(JSON.stringify(exportModel(compiled))));
    expect(await exportGraph(compiled, 'mermaid')).toBe(toMermaid(exportModel(compiled)));
  });
});
