/**
 * Compile-time port typing. `npm test` runs `tsc --noEmit` first, so every `@ts-expect-error`
 * below must really be an error: if the builder stopped catching a mismatch, tsc would fail
 * with "Unused '@ts-expect-error' directive".
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/graph.ts';
import { Batch } from '../../src/nodes/data/batch.ts';
import { SyntheticShapes } from '../../src/nodes/data/synthetic-shapes.ts';
import { SigmoidBce } from '../../src/nodes/losses/sigmoid-bce.ts';
import { PatchMlp } from '../../src/nodes/models/patch-mlp.ts';
import { Counter, Sink } from '../fixtures/nodes.ts';

function typeChecks(g: GraphBuilder) {
  const data = g.add('data', SyntheticShapes);
  const batch = g.add('batch', Batch, { inputs: { image: data.out.image, mask: data.out.mask } });
  const model = g.add('model', PatchMlp, { inputs: { images: batch.out.images } });

  // A Mask where an Image is expected: both are RawImage, but the port names differ.
  // @ts-expect-error BinaryMask is not Image
  g.add('bad1', Batch, { inputs: { image: data.out.mask, mask: data.out.mask } });
  // @ts-expect-error MaskProbs is not MaskLogits
  g.add('bad2', SigmoidBce, { inputs: { logits: model.out.probs, masks: batch.out.masks } });
  // @ts-expect-error a required input is missing
  g.add('bad3', SigmoidBce, { inputs: { logits: model.out.logits } });
  // @ts-expect-error inputs are required for a node that has required inputs
  g.add('bad4', PatchMlp);
  // @ts-expect-error params are typed by the node's schema
  g.add('bad5', Batch, { params: { size: 'eight' }, inputs: { image: data.out.image, mask: data.out.mask } });
  // @ts-expect-error an output that does not exist
  g.add('bad6', PatchMlp, { inputs: { images: batch.out.nothing } });

  const counter = g.add('counter', Counter, { params: { count: 2 } });
  g.add('sink', Sink, { inputs: { label: counter.out.label } });
  // @ts-expect-error optional inputs still check their type (Vector is not Count)
  g.add('sink2', Sink, { inputs: { label: counter.out.label, count: counter.out.vector } });
}

describe('typed builder', () => {
  it('builds the graph the type checks describe (minus the rejected nodes)', () => {
    const g = new GraphBuilder({ name: 'types' });
    const data = g.add('data', SyntheticShapes, { params: { size: 16 } });
    const batch = g.add('batch', Batch, { inputs: { image: data.out.image, mask: data.out.mask } });
    g.add('model', PatchMlp, { inputs: { images: batch.out.images } });
    expect(g.build().toJson().nodes.map((n) => [n.name, n.inputs])).toEqual([
      ['data', {}],
      ['batch', { image: 'data.image', mask: 'data.mask' }],
      ['model', { images: 'batch.images' }],
    ]);
    expect(typeChecks).toBeTypeOf('function');
  });
});
