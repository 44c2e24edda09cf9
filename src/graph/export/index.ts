/**
 * Graph export: a compiled graph as neutral JSON, a Mermaid flowchart, Graphviz DOT, or a
 * self-contained HTML page, all drawn from the one export model.
 */
import type { CompiledGraph } from '../compile.ts';
import { toDot } from './dot.ts';
import { toHtml } from './html.ts';
import { toMermaid } from './mermaid.ts';
import { exportModel } from './model.ts';

export { toDot } from './dot.ts';
export { escape as escapeHtml, toHtml, toSvg } from './html.ts';
export { toMermaid } from './mermaid.ts';
export { exportModel, type ExportEdge, type ExportNode, type ExportSegment, type GraphExport } from './model.ts';

export type ExportFormat = 'json' | 'mermaid' | 'dot' | 'html';

export async function exportGraph(compiled: CompiledGraph, format: ExportFormat): Promise<string> {
  const model = exportModel(compiled);
  switch (format) {
    case 'json':
      return `${JSON.stringify(model, null, 2)}\n`;
    case 'mermaid':
      return toMermaid(model);
    case 'dot':
      return toDot(model);
    case 'html':
      return toHtml(model);
  }
}
