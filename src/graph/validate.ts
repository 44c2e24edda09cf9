/**
 * Run-time validation of a graph in JSON form: the same checks the typed builder makes at
 * compile time, plus the ones only the registry can answer. Every problem is collected and
 * reported at once, each naming the node (and port) it concerns.
 */
import { GraphValidationError } from './errors.ts';
import { GRAPH_FORMAT, parseRef, type GraphJson, type NodeJson } from './graph.ts';
import { inputPort, type AnyNodeDefinition } from './node.ts';
import type { NodeRegistry } from './registry.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function validateGraph(raw: unknown, registry: NodeRegistry, source: string): GraphJson {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null) throw new GraphValidationError(source, ['expected a JSON object']);
  const json = raw as Partial<GraphJson>;
  if (json.format !== undefined && json.format !== GRAPH_FORMAT) {
    problems.push(`format '${String(json.format)}' is not supported (expected '${GRAPH_FORMAT}')`);
  }
  if (typeof json.name !== 'string' || json.name === '') problems.push(`'name' must be a non-empty string`);
  if (!Array.isArray(json.nodes)) throw new GraphValidationError(source, [...problems, `'nodes' must be an array`]);
  if (json.seed !== undefined && !Number.isInteger(json.seed)) problems.push(`'seed' must be an integer`);
  if (json.modules !== undefined && (!Array.isArray(json.modules) || json.modules.some((m) => typeof m !== 'string'))) {
    problems.push(`'modules' must be an array of module specifiers (strings)`);
  }

  const definitions = new Map<string, AnyNodeDefinition>();
  const nodes: NodeJson[] = [];
  const seen = new Set<string>();
  for (const [i, node] of json.nodes.entries()) {
    const where = typeof node?.name === 'string' ? `node '${node.name}'` : `nodes[${i}]`;
    if (typeof node?.name !== 'string' || !NAME.test(node.name)) {
      problems.push(`${where}: name must match ${NAME} (letters, digits, '_' and '-')`);
      continue;
    }
    if (seen.has(node.name)) {
      problems.push(`${where}: duplicate node name`);
      continue;
    }
    seen.add(node.name);
    if (typeof node.kind !== 'string' || !registry.has(node.kind)) {
      const known = registry.list().map((d) => d.kind).sort().join(', ');
      problems.push(`${where}: unknown kind '${String(node.kind)}' (registered: ${known || 'none'})`);
      continue;
    }
    const definition = registry.get(node.kind);
    const parsed = definition.params.safeParse(node.params ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.length ? issue.path.join('.') : '(params)';
        problems.push(`${where} (kind ${node.kind}): param '${path}': ${issue.message}`);
      }
      continue;
    }
    for (const key of ['concurrency', 'prefetch'] as const) {
      const v = node[key];
      if (v !== undefined && (!Number.isInteger(v) || v < (key === 'concurrency' ? 1 : 0))) {
        problems.push(`${where}: '${key}' must be an integer ≥ ${key === 'concurrency' ? 1 : 0}, got ${String(v)}`);
      }
    }
    definitions.set(node.name, definition);
    nodes.push({ ...node, inputs: { ...(node.inputs ?? {}) }, params: parsed.data });
  }

  for (const node of nodes) {
    const definition = definitions.get(node.name)!;
    const where = `node '${node.name}' (kind ${node.kind})`;
    for (const [port, ref] of Object.entries(node.inputs)) {
      const spec = definition.inputs[port];
      if (!spec) {
        const known = Object.keys(definition.inputs).join(', ') || 'none';
        problems.push(`${where}: has no input port '${port}' (its inputs: ${known})`);
        continue;
      }
      const target = parseRef(String(ref));
      if (!target) {
        problems.push(`${where}: input '${port}' must reference 'node.port', got '${String(ref)}'`);
        continue;
      }
      const producer = definitions.get(target.node);
      if (!producer) {
        problems.push(`${where}: input '${port}' references unknown node '${target.node}'`);
        continue;
      }
      const produced = producer.outputs[target.port];
      if (!produced) {
        const known = Object.keys(producer.outputs).join(', ') || 'none';
        problems.push(`${where}: input '${port}' references '${ref}', but node '${target.node}' has no output '${target.port}' (its outputs: ${known})`);
        continue;
      }
      const expected = inputPort(spec).port;
      if (produced.name !== expected.name) {
        problems.push(
          `cannot connect '${target.node}.${target.port}' (${produced.name}) to '${node.name}.${port}' (expects ${expected.name})`,
        );
      }
    }
    for (const [port, spec] of Object.entries(definition.inputs)) {
      if (!inputPort(spec).optional && !(port in node.inputs)) {
        problems.push(`${where}: required input '${port}' (${inputPort(spec).port.name}) is not connected`);
      }
    }
  }

  const cycle = findCycle(nodes);
  if (cycle) problems.push(`cycle: ${cycle.join(' -> ')}`);
  if (nodes.length > 0 && !nodes.some((n) => definitions.get(n.name)!.main?.type === 'source')) {
    problems.push('the graph has no source node (a main node of type source that produces items)');
  }

  if (problems.length) throw new GraphValidationError(source, problems);
  return {
    format: GRAPH_FORMAT,
    name: json.name!,
    seed: json.seed ?? 0,
    modules: [...(json.modules ?? [])],
    nodes,
  };
}

/** Returns one cycle as a list of node names (first repeated at the end), if any. */
function findCycle(nodes: readonly NodeJson[]): string[] | undefined {
  const deps = new Map(nodes.map((n) => [n.name, Object.values(n.inputs).map((r) => parseRef(r)?.node ?? '')]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done' || !deps.has(name)) return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of deps.get(name)!) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const node of nodes) {
    const found = visit(node.name);
    if (found) return found.reverse();
  }
  return undefined;
}
