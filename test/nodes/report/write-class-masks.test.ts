/**
 * report/write-class-masks: the predicted ids read back exactly by the class-index decoder at
 * each image's size (nearest-neighbour, as PyTorch's 'nearest'), the colour PNG in the palette,
 * and the refusals (overwrite, out-of-range ids, batch/infos mismatch).
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tensorData } from '../../../src/graph/port.ts';
import { decodeLabel } from '../../../src/nodes/data/decode.ts';
import { classColour } from '../../../src/nodes/data/synthetic-classes.ts';
import type { SampleInfo } from '../../../src/nodes/ports.ts';
import { resizeNearest, WriteClassMasks } from '../../../src/nodes/report/write-class-masks.ts';
import { tempDir } from '../../fixtures/datasets.ts';

const info = (id: string, width: number, height: number): SampleInfo => ({ id, file: `/images/${id}.jpg`, width, height });
const meta = { index: 0, split: 'predict', epoch: 0, groupEnd: false };

function writer(dir: string, palette = false) {
  return WriteClassMasks.main.create(WriteClassMasks.params.parse({ dir, classes: 5, palette }), { node: 'write', kind: WriteClassMasks.kind, seed: 0, emit: () => undefined });
}

describe('report/write-class-masks', () => {
  it('writes class ids that the class-index decoder reads back exactly, resized nearest to each image, and a colour PNG', async () => {
    const dir = join(tempDir('samflow-class-masks-'), 'out');
    // two 4x3 id maps
    const ids = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, 4, 2];
    await writer(dir, true).process({ labels: tensorData(Int32Array.from(ids), [2, 3, 4, 1]), infos: [info('a', 4, 3), info('b', 9, 7)] }, meta);
    const a = await decodeLabel(join(dir, 'a.png'));
    expect([a.width, a.height]).toEqual([4, 3]);
    expect([...a.data]).toEqual(ids.slice(0, 12));
    const b = await decodeLabel(join(dir, 'b.png'));
    expect([b.width, b.height]).toEqual([9, 7]);
    expect([...b.data]).toEqual([...resizeNearest(ids.slice(12), 4, 3, 9, 7)]);
    // nearest as PyTorch: output x takes input floor(x * in / out)
    expect(b.data[8]).toBe(ids[12 + 3]);
    const colour = await sharp(join(dir, 'colour', 'a.png')).raw().toBuffer({ resolveWithObject: true });
    expect(colour.info.channels).toBe(3);
    expect([...colour.data.subarray(3, 6)]).toEqual(classColour(1, 5).map(Math.round));
    expect([...colour.data.subarray(0, 3)]).toEqual([0, 0, 0]);
  });

  it('never overwrites, and names out-of-range ids and a batch without one info per image', async () => {
    const dir = join(tempDir('samflow-class-masks-'), 'out');
    const labels = tensorData(Int32Array.of(0, 1, 2, 3), [1, 2, 2, 1]);
    await writer(dir).process({ labels, infos: [info('x', 2, 2)] }, meta);
    await expect(writer(dir).process({ labels, infos: [info('x', 2, 2)] }, meta)).rejects.toThrow('x.png already exists');
    await expect(writer(dir).process({ labels: tensorData(Int32Array.of(0, 7, 2, 3), [1, 2, 2, 1]), infos: [info('y', 2, 2)] }, meta)).rejects.toThrow('predicted class 7 for /images/y.jpg is outside 0..4');
    await expect(writer(dir).process({ labels, infos: [] }, meta)).rejects.toThrow('labels hold 1 images but infos 0');
  });
});
