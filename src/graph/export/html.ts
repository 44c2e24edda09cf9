/**
 * A single self-contained HTML page describing a graph: the diagram is rendered to SVG here,
 * at export time, with Graphviz compiled to WebAssembly (@viz-js/viz), and inlined, so the
 * page loads no scripts, stylesheets or fonts and works offline, e.g. attached to a report.
 */
import { instance, type Viz } from '@viz-js/viz';
import { toDot } from './dot.ts';
import type { GraphExport } from './model.ts';
import { palette } from './palette.ts';

let viz: Promise<Viz> | undefined;

/** The graph drawn by Graphviz as an <svg> element, ready to inline in HTML. */
export async function toSvg(model: GraphExport): Promise<string> {
  viz ??= instance();
  const svg = (await viz).renderString(toDot(model), { format: 'svg' });
  // Graphviz writes an XML declaration and a DOCTYPE before <svg>; neither belongs inside HTML.
  return svg.slice(svg.indexOf('<svg'));
}

export async function toHtml(model: GraphExport): Promise<string> {
  const inline = await toSvg(model);
  const title = escape(model.graph.name);
  const workerSegments = model.segments.filter((s) => s.placement === 'worker').length;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · samflow graph</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }
figure { margin: 1rem 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
#nodes td:last-child { font-family: ui-monospace, monospace; font-size: 0.85rem; overflow-wrap: anywhere; min-width: 20rem; }
.legend { display: flex; gap: 1.5rem; list-style: none; padding: 0; }
.swatch { display: inline-block; width: 1em; height: 1em; margin-right: 0.4em; vertical-align: middle; border: 1px solid; }
</style>
</head>
<body>
<h1>${title}</h1>
<p>Seed ${model.graph.seed} · ${model.nodes.length} nodes · ${model.edges.length} edges · ${model.segments.length} stages, ${workerSegments} in the tensor worker</p>
<ul class="legend">
${swatch(palette.main, 'main-thread node')}
${swatch(palette.worker, 'tensor-worker node')}
${swatch(palette.segment, 'worker segment (runs as one unit, under one gradient tape)')}
</ul>
<figure>
${inline.trim()}
</figure>
<h2>Nodes</h2>
${table(
  'nodes',
  ['name', 'kind', 'placement', 'segment', 'description', 'params'],
  model.nodes.map((n) => [n.name, n.kind, n.placement, n.stage, n.description, JSON.stringify(n.params) ?? '']),
)}
<h2>Edges</h2>
${table(
  'edges',
  ['from', 'to', 'type', 'transport'],
  model.edges.map((e) => [`${e.from.node}.${e.from.port}`, `${e.to.node}.${e.to.port}`, e.type, e.transport]),
)}
</body>
</html>
`;
}

function swatch(colours: { readonly fill: string; readonly stroke: string }, label: string): string {
  return `<li><span class="swatch" style="background: ${colours.fill}; border-color: ${colours.stroke}"></span>${escape(label)}</li>`;
}

function table(id: string, headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `<table id="${id}">`,
    `<thead><tr>${headers.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((row) => `<tr>${row.map((cell) => `<td>${escape(cell)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.codePointAt(0)};`);
}
