/**
 * Graphviz DOT of an exported graph: the source for the HTML page's SVG, and usable on its own
 * with `dot -Tsvg`. Each worker segment is a filled cluster, since it runs as one unit in the
 * tensor worker; main-thread nodes keep their own colour outside any cluster.
 */
import type { ExportNode, GraphExport } from './model.ts';
import { palette } from './palette.ts';

const FONT = 'Helvetica';

export function toDot(model: GraphExport): string {
  const nodes = new Map(model.nodes.map((n) => [n.name, n]));
  const lines = [
    `digraph ${quote(model.graph.name)} {`,
    `  graph [rankdir=LR, fontname=${quote(FONT)}, label=${quote(`${model.graph.name} (seed ${model.graph.seed})`)}, labelloc=t];`,
    `  node [shape=box, style="rounded,filled", fontname=${quote(FONT)}, fontsize=11];`,
    `  edge [fontname=${quote(FONT)}, fontsize=9];`,
  ];
  for (const segment of model.segments) {
    const members = segment.nodes.map((name) => nodes.get(name)!);
    if (segment.placement === 'main') {
      for (const node of members) lines.push(`  ${declare(node)}`);
      continue;
    }
    lines.push(
      `  subgraph ${quote(`cluster_${segment.id}`)} {`,
      `    graph [label=${quote(`worker segment ${segment.id}`)}, style="rounded,filled", fillcolor=${quote(palette.segment.fill)}, color=${quote(palette.segment.stroke)}];`,
      ...members.map((node) => `    ${declare(node)}`),
      '  }',
    );
  }
  for (const edge of model.edges) {
    const label = quote(`${edge.from.port} → ${edge.to.port}\n${edge.type}`);
    lines.push(`  ${quote(edge.from.node)} -> ${quote(edge.to.node)} [label=${label}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** A node with its kind under its name; the tooltip (a hover title in SVG) is its kind's description. */
function declare(node: ExportNode): string {
  const { fill, stroke } = palette[node.placement];
  const label = quote(`${node.name}\n${node.kind}`);
  return `${quote(node.name)} [label=${label}, tooltip=${quote(node.description)}, fillcolor=${quote(fill)}, color=${quote(stroke)}];`;
}

/**
 * A DOT double-quoted string. Backslashes are doubled so text keeps them literally (DOT reads
 * `\n`, `\l`, `\N`… in labels as escapes); a newline in the text becomes DOT's `\n` line break.
 */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`).replace(/\r?\n/g, '\\n')}"`;
}
