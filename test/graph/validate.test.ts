import { describe, expect, it } from 'vitest';
import { GraphValidationError } from '../../src/graph/errors.ts';
import { Graph, GraphBuilder, type GraphJson } from '../../src/graph/graph.ts';
import { defineNode } from '../../src/graph/node.ts';
import { NodeRegistry, defaultRegistry } from '../../src/graph/registry.ts';
import { z } from 'zod';
import { Label } from '../fixtures/nodes.ts';

const base = (nodes: GraphJson['nodes']): GraphJson => ({ format: 'samflow-graph@1', name: 't', seed: 1, modules: [], nodes });

function problems(json: unknown): string[] {
  try {
    Graph.fromJson(json);
  } catch (error) {
    expect(error).toBeInstanceOf(GraphValidationError);
    return [...(error as GraphValidationError).problems];
  }
  throw new Error('expected the graph to be rejected');
}

describe('graph validation', () => {
  it('accepts a well-formed graph and fills in param defaults', () => {
    const g = Graph.fromJson(base([
      { name: 'src', kind: 'test/counter', params: { count: 3 }, inputs: {} },
      { name: 'sink', kind: 'test/record', params: {}, inputs: { label: 'src.label' } },
    ]));
    expect(g.node('src').params).toEqual({ count: 3, width: 4, train: 0 });
    expect(g.node('sink').params).toEqual({ ms: 0 });
  });

  it('names both nodes and ports when types do not match', () => {
    const found = problems(base([
      { name: 'src', kind: 'test/counter', params: { count: 3 }, inputs: {} },
      { name: 'sink', kind: 'test/record', params: {}, inputs: { label: 'src.vector' } },
    ]));
    expect(found).toEqual(["cannot connect 'src.vector' (Vector) to 'sink.label' (expects Label)"]);
  });

  it('reports an unconnected required input with its type', () => {
    const found = problems(base([
      { name: 'src', kind: 'test/counter', params: { count: 3 }, inputs: {} },
      { name: 'sink', kind: 'test/record', params: {}, inputs: {} },
    ]));
    expect(found).toEqual(["node 'sink' (kind test/record): required input 'label' (Label) is not connected"]);
  });

  it('reports duplicate names, unknown kinds and bad params together', () => {
    const found = problems(base([
      { name: 'src', kind: 'test/counter', params: { count: -1 }, inputs: {} },
      { name: 'src', kind: 'test/counter', params: { count: 1 }, inputs: {} },
      { name: 'x', kind: 'test/nope', params: {}, inputs: {} },
    ]));
    expect(found[0]).toMatch(/node 'src' \(kind test\/counter\): param 'count': .*>=0/);
    expect(found[1]).toBe("node 'src': duplicate node name");
    expect(found[2]).toMatch(/^node 'x': unknown kind 'test\/nope' \(registered: .*test\/counter/);
  });

  it('finds a cycle and prints its path', () => {
    const found = problems(base([
      { name: 'src', kind: 'test/counter', params: { count: 1 }, inputs: {} },
      { name: 'a', kind: 'test/delay', params: {}, inputs: { label: 'b.label' } },
      { name: 'b', kind: 'test/delay', params: {}, inputs: { label: 'a.label' } },
    ]));
    expect(found).toEqual(['cycle: a -> b -> a']);
  });

  it('rejects references to missing nodes, missing ports and unknown input ports', () => {
    const found = problems(base([
      { name: 'src', kind: 'test/counter', params: { count: 1 }, inputs: {} },
      { name: 'a', kind: 'test/delay', params: {}, inputs: { label: 'ghost.label' } },
      { name: 'b', kind: 'test/delay', params: {}, inputs: { label: 'src.nothing' } },
      { name: 'c', kind: 'test/delay', params: {}, inputs: { label: 'src.label', extra: 'src.label' } },
    ]));
    expect(found).toEqual([
      "node 'a' (kind test/delay): input 'label' references unknown node 'ghost'",
      "node 'b' (kind test/delay): input 'label' references 'src.nothing', but node 'src' has no output 'nothing' (its outputs: vector, label)",
      "node 'c' (kind test/delay): has no input port 'extra' (its inputs: label)",
    ]);
  });

  it('requires a source and a known format', () => {
    expect(problems({ ...base([{ name: 'a', kind: 'test/delay', params: {}, inputs: { label: 'a.label' } }]), format: 'v0' })).toEqual([
      "format 'v0' is not supported (expected 'samflow-graph@1')",
      'cycle: a -> a',
      'the graph has no source node (a main node of type source that produces items)',
    ]);
  });

  it('checks that modules is a list of strings', () => {
    expect(problems({ ...base([{ name: 'src', kind: 'test/counter', params: { count: 1 }, inputs: {} }]), modules: 'abc' })).toEqual([
      "'modules' must be an array of module specifiers (strings)",
    ]);
  });

  it('refuses a source kind that declares inputs', () => {
    expect(() =>
      defineNode({ kind: 'test/bad-source', description: '', placement: 'main', inputs: { x: Label }, outputs: {}, params: z.object({}), main: { type: 'source', create: () => [] } }),
    ).toThrow('defineNode(test/bad-source): a source produces items and takes no inputs, but declares x');
  });

  it('names the source of a graph in the error message', () => {
    expect(() => Graph.fromJson({ name: 'x', nodes: 3 }, defaultRegistry, 'my-graph.json')).toThrow(/^my-graph.json is not a valid graph:\n {2}- 'nodes' must be an array/);
  });
});

describe('node registry', () => {
  it('refuses a second definition of a kind and names unknown kinds', () => {
    const registry = new NodeRegistry();
    const def = { kind: 'k/one', description: '', placement: 'main', inputs: {}, outputs: {}, params: z.object({}), main: { type: 'source', create: () => [] } } as const;
    registry.register(def);
    registry.register(def);
    expect(() => registry.register({ ...def })).toThrow("node kind 'k/one' is already registered; kinds must be unique");
    expect(() => registry.get('k/two')).toThrow("graph: unknown node kind 'k/two'. Registered kinds: k/one");
  });

  it('defineNode registers into the default registry and refuses duplicates', () => {
    expect(defaultRegistry.has('test/counter')).toBe(true);
    expect(() =>
      defineNode({ kind: 'test/counter', description: '', placement: 'main', inputs: {}, outputs: {}, params: z.object({}), main: { type: 'source', create: () => [] } }),
    ).toThrow(/already registered/);
  });
});

describe('JSON round trip', () => {
  it('graph -> JSON -> graph is equal', async () => {
    const { toySegmentation } = await import('../../pipelines/toy-segmentation.ts');
    const graph = toySegmentation();
    const text = JSON.stringify(graph.toJson());
    const again = Graph.fromJson(JSON.parse(text));
    expect(again.toJson()).toEqual(graph.toJson());
    expect(JSON.stringify(again.toJson())).toBe(text);
  });

  it('the builder goes through the same validation as JSON', () => {
    const g = new GraphBuilder({ name: 'b' });
    g.add('src', (defaultRegistry.get('test/counter') as never), { params: { count: -5 } } as never);
    expect(() => g.build()).toThrow(/param 'count'/);
  });
});
