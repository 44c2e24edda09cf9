/**
 * Mermaid flowchart of an exported graph, for pasting into Markdown (GitHub renders it). Worker
 * segments become subgraphs, since a segment runs as one unit under one gradient tape; nodes
 * are coloured by the thread they run on.
 */
import type { GraphExport } from './model.ts';
import { palette } from './palette.ts';

export function toMermaid(model: GraphExport): string {
  const nodes = new Map(model.nodes.map((n) => [n.name, n]));
  const declare = (name: string) => {
    const node = nodes.get(name)!;
    return `${nodeId(name)}["${text(node.name)}<br/>${text(node.kind)}"]:::${node.placement}`;
  };
  const lines = ['flowchart LR'];
  for (const placement of ['main', 'worker'] as const) {
    lines.push(`  classDef ${placement} fill:${palette[placement].fill},stroke:${palette[placement].stroke},color:#1a1a1a`);
  }
  for (const segment of model.segments) {
    if (segment.placement === 'main') {
      for (const name of segment.nodes) lines.push(`  ${declare(name)}`);
      continue;
    }
    const id = `segment_${segment.id}`;
    lines.push(`  subgraph ${id}["${text(`worker segment ${segment.id}`)}"]`);
    for (const name of segment.nodes) lines.push(`    ${declare(name)}`);
    lines.push('  end');
    lines.push(`  style ${id} fill:${palette.segment.fill},stroke:${palette.segment.stroke}`);
  }
  for (const edge of model.edges) {
    const label = text(`${edge.from.port} → ${edge.to.port} : ${edge.type}`);
    lines.push(`  ${nodeId(edge.from.node)} -->|"${label}"| ${nodeId(edge.to.node)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Node names may hold '-' (which Mermaid can read as part of an arrow) or be a keyword such as
 * `end`, so ids are the name behind an `n_` prefix with '_' doubled and '-' written `_h`: still
 * readable, never a keyword, and distinct for distinct names and from the `segment_` ids.
 */
function nodeId(name: string): string {
  return `n_${name.replaceAll('_', '__').replaceAll('-', '_h')}`;
}

const ENTITIES: Readonly<Record<string, string>> = {
  '#': '#35;',
  '"': '#quot;',
  '&': '#amp;',
  '<': '#lt;',
  '>': '#gt;',
  '`': '#96;',
  '|': '#124;',
};

/** Text for inside a quoted Mermaid label, written with Mermaid's `#…;` entity codes. */
function text(value: string): string {
  return value.replace(/[#"&<>`|]/g, (ch) => ENTITIES[ch]!);
}
