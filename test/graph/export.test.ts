import { instance } from '@viz-js/viz';
import { describe, expect, it } from 'vitest';
import { toySegmentation } from '../../pipelines/toy-segmentation.ts';
import { compile } from '../../src/graph/compile.ts';
import { exportGraph, exportModel, toDot, toHtml, toMermaid, type GraphExport } from '../../src/graph/export/index.ts';
import { GraphBuilder, type Graph } from '../../src/graph/graph.ts';
import { Batch, PatchMlp, SyntheticShapes } from '../../src/nodes/index.ts';

const toy = toySegmentation();
const model = exportModel(compile(toy));
const worker = model.segments.find((s) => s.placement === 'worker')!;

/** Names that need escaping everywhere: a hyphen, a Mermaid keyword, quotes and markup in the graph name. */
function awkward(): Graph {
  const g = new GraphBuilder({ name: 'odd "graph" \\n #1 <b>&</b>', seed: 3 });
  const source = g.add('end', SyntheticShapes, { params: { size: 8, train: 2, val: 0, epochs: 1 } });
  const batch = g.add('my-batch', Batch, { params: { size: 2 }, inputs: { image: source.out.image, mask: source.out.mask } });
  g.add('patch_mlp-1', PatchMlp, { params: { patch: 4, hidden: 4 }, inputs: { images: batch.out.images } });
  return g.build();
}

const NAMED: Readonly<Record<string, string>> = { quot: '"', amp: '&', lt: '<', gt: '>' };

function decodeEntities(text: string): string {
  return text.replace(/&(?:#(\d+)|(quot|amp|lt|gt));/g, (_, code: string | undefined, name: string | undefined) =>
    code ? String.fromCodePoint(Number(code)) : NAMED[name!]!,
  );
}

/** Graphviz problems beyond warnings (it warns, once per process, that it has no width for '→'). */
function errors(result: { errors: readonly { level?: string; message: string }[] }): string[] {
  return result.errors.filter((e) => e.level !== 'warning').map((e) => e.message);
}

function edgeLabel(edge: GraphExport['edges'][number]): string {
  return `${edge.from.port} → ${edge.to.port} : ${edge.type}`;
}

describe('exportModel', () => {
  it('lists every node, edge and stage of the toy graph', () => {
    expect(model.graph).toEqual({ name: 'toy-segmentation', seed: 42 });
    expect(model.nodes.map((n) => n.name)).toEqual(['data', 'flip', 'batch', 'model', 'loss', 'optimizer', 'iou']);
    expect(model.edges).toHaveLength(10);
    expect(model.segments).toHaveLength(5);
    expect(worker).toEqual({ id: '3', placement: 'worker', nodes: ['model', 'loss', 'optimizer'] });
    expect(model.segments.filter((s) => s.placement === 'worker')).toHaveLength(1);
  });

  it('places each node in the one segment that holds it', () => {
    for (const node of model.nodes) {
      const holders = model.segments.filter((s) => s.nodes.includes(node.name));
      expect(holders.map((s) => s.id)).toEqual([node.stage]);
      expect(holders[0]!.placement).toBe(node.placement);
      expect(node.kind).toBe(toy.node(node.name).kind);
      expect(node.params).toEqual(toy.node(node.name).params);
    }
  });

  it('has one edge per connected input, typed by the producing port', () => {
    const inputs = toy.nodes.flatMap((n) => Object.entries(n.inputs).map(([port, ref]) => `${ref}->${n.name}.${port}`));
    expect(model.edges.map((e) => `${e.from.node}.${e.from.port}->${e.to.node}.${e.to.port}`).sort()).toEqual(inputs.sort());
    for (const edge of model.edges) {
      const produced = toy.registry.get(toy.node(edge.from.node).kind).outputs[edge.from.port]!;
      expect(edge.type).toBe(produced.name);
      expect(edge.transport).toBe(produced.transport);
    }
  });

  it('is deterministic and round-trips as JSON', async () => {
    expect(exportModel(compile(toySegmentation()))).toEqual(model);
    expect(JSON.parse(await exportGraph(compile(toy), 'json'))).toEqual(model);
  });
});

describe('toMermaid', () => {
  const text = toMermaid(model);

  it('draws the worker segment as a subgraph holding exactly its nodes', () => {
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    const block = text.match(/subgraph segment_3\["worker segment 3"\]\n([\s\S]*?)\n\s*end\n/);
    expect(block).not.toBeNull();
    const names = [...block![1]!.matchAll(/\["([^"<]+)<br\/>/g)].map((m) => m[1]);
    expect(names).toEqual(worker.nodes);
    expect(block![1]).not.toContain(':::main');
    expect(text.match(/^\s*subgraph /gm)).toHaveLength(1);
  });

  it('labels every edge with its ports and type', () => {
    for (const edge of model.edges) {
      expect(text).toContain(`n_${edge.from.node} -->|"${edgeLabel(edge)}"| n_${edge.to.node}`);
    }
    expect(text).toContain('n_batch -->|"images → images : ImageBatch"| n_model');
  });

  it('gives awkward node names ids Mermaid cannot misread', () => {
    const awkwardText = toMermaid(exportModel(compile(awkward())));
    const ids = [...awkwardText.matchAll(/^\s*(\S+)\["/gm)].map((m) => m[1]);
    expect(ids).toEqual(['n_end', 'n_my_hbatch', 'n_patch__mlp_h1']);
    expect(awkwardText).toContain('subgraph segment_2["worker segment 2"]');
    expect(awkwardText).toContain('n_my_hbatch -->|"images → images : ImageBatch"| n_patch__mlp_h1');
  });
});

describe('toDot', () => {
  it('clusters the worker segment and renders with Graphviz', async () => {
    const dot = toDot(model);
    expect(dot).toMatch(/^digraph "toy-segmentation" \{/);
    expect(dot).toContain('rankdir=LR');
    const cluster = dot.match(/subgraph "cluster_3" \{\n([\s\S]*?)\n {2}\}/);
    expect(cluster![1]).toContain('label="worker segment 3"');
    expect([...cluster![1]!.matchAll(/^ {4}"([^"]+)" \[/gm)].map((m) => m[1])).toEqual(worker.nodes);
    expect(dot.match(/subgraph /g)).toHaveLength(1);
    expect(dot).toContain('"batch" -> "model" [label="images → images\\nImageBatch"]');
    const viz = await instance();
    expect(() => viz.renderString(dot, { format: 'svg' })).not.toThrow();
    expect(errors(viz.render(dot, { format: 'svg' }))).toEqual([]);
  });

  it('escapes quotes and backslashes so Graphviz shows text as written', async () => {
    const dot = toDot(exportModel(compile(awkward())));
    const viz = await instance();
    const svg = viz.render(dot, { format: 'svg' });
    expect(errors(svg)).toEqual([]);
    const texts = [...svg.output!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeEntities(m[1]!));
    expect(texts).toContain('odd "graph" \\n #1 <b>&</b> (seed 3)');
    const json = JSON.parse(viz.renderString(dot, { format: 'json' })) as { objects: { name: string }[] };
    expect(json.objects.map((o) => o.name).sort()).toEqual(['cluster_2', 'end', 'my-batch', 'patch_mlp-1']);
  });
});

describe('toHtml', () => {
  it('inlines an SVG naming every node, with tables and no external references', async () => {
    const html = await exportGraph(compile(toy), 'html');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    expect(svg.length).toBeGreaterThan(0);
    expect(html).not.toContain('<?xml');
    for (const node of model.nodes) {
      expect(svg).toMatch(new RegExp(`<text[^>]*>${node.name}</text>`));
      expect(html).toContain(`<td>${node.name}</td>`);
    }
    expect(html).toContain('<td>batch.images</td><td>model.images</td><td>ImageBatch</td><td>tensor</td>');
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<link\b|@import|url\(/i);
    const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
    expect(urls.filter((url) => !/^http:\/\/www\.w3\.org\//.test(url))).toEqual([]);
  });

  it('escapes awkward names in the page and still draws every node', async () => {
    const html = await toHtml(exportModel(compile(awkward())));
    expect(html).toContain('<h1>odd &#34;graph&#34; \\n #1 &#60;b&#62;&#38;&#60;/b&#62;</h1>');
    expect(html).not.toContain('<b>&</b>');
    const svgText = [...html.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeEntities(m[1]!));
    for (const name of ['end', 'my-batch', 'patch_mlp-1']) expect(svgText).toContain(name);
  });
});
