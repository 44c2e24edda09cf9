import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import sharp from 'sharp';
import type { NodeEvent } from '../../../src/graph/events.ts';
import { tensorData } from '../../../src/graph/port.ts';
import type { SampleInfo } from '../../../src/nodes/ports.ts';
import { WriteMultiTask } from '../../../src/nodes/report/write-multitask.ts';
import { tempDir } from '../../fixtures/datasets.ts';

const info = (id: string, width: number, height: number): SampleInfo => ({ id, file: `/images/${id}.jpg`, width, height });
const meta = { index: 0, split: 'predict', epoch: 0, groupEnd: false };

function writer(dir: string) {
  const events: NodeEvent[] = [];
  const impl = WriteMultiTask.main.create(WriteMultiTask.params.parse({ dir, folders: { seg: 'seg', depth: 'depth', normals: 'normal' }, classes: 4 }), { node: 'write', kind: WriteMultiTask.kind, seed: 0, emit: (e) => events.push(e) });
  return { impl, events };
}

async function raw(file: string, colourspace: 'grey16' | 'b-w' | 'srgb') {
  const image = sharp(file).toColourspace(colourspace);
  const { data, info: i } = await (colourspace === 'grey16' ? image.raw({ depth: 'ushort' }) : image.raw()).toBuffer({ resolveWithObject: true });
  const values = colourspace === 'grey16' ? [...new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)] : [...data];
  return { width: i.width, height: i.height, channels: i.channels, values };
}

describe('report/write-multitask', () => {
  it('writes class ids (8-bit), depth in mm (16-bit) and normals as RGB per task folder, at the image size, never overwriting', async () => {
    const dir = tempDir('samflow-mt-write-');
    const { impl, events } = writer(dir);
    // One 2×1 map per task for an image that is 4×1 (nearest doubles each column).
    const seg = tensorData(Int32Array.from([3, 1]), [1, 1, 2, 1]);
    const depth = tensorData(Float32Array.from([1.2345, -0.5]), [1, 1, 2, 1]);
    const normals = tensorData(Float32Array.from([0, 0, 1, -1, 0.6, 0]), [1, 1, 2, 3]);
    await impl.process({ seg, depth, normals, infos: [info('a', 4, 1)] }, meta);
    impl.finish?.();
    expect(await raw(join(dir, 'seg', 'a.png'), 'b-w')).toEqual({ width: 4, height: 1, channels: 1, values: [3, 3, 1, 1] });
    // round(1.2345 m × 1000) = 1235 mm (1234.5 rounds half up); a negative depth is 0 (none).
    expect(await raw(join(dir, 'depth', 'a.png'), 'grey16')).toEqual({ width: 4, height: 1, channels: 1, values: [1235, 1235, 0, 0] });
    // (n + 1) / 2 × 255: (0, 0, 1) → (128, 128, 255) with 127.5 rounded up; (−1, 0.6, 0) → (0, 204, 128).
    expect((await raw(join(dir, 'normal', 'a.png'), 'srgb')).values).toEqual([128, 128, 255, 128, 128, 255, 0, 204, 128, 0, 204, 128]);
    expect(events.at(-1)).toMatchObject({ type: 'log', message: `wrote 1 seg PNG(s) in ${join(dir, 'seg')}, 1 depth PNG(s) in ${join(dir, 'depth')}, 1 normals PNG(s) in ${join(dir, 'normal')}` });
    await expect(writer(dir).impl.process({ depth, infos: [info('a', 4, 1)] }, meta)).rejects.toThrow('a.png');
    await expect(writer(dir).impl.process({ seg: tensorData(Int32Array.from([4, 0]), [1, 1, 2, 1]), infos: [info('b', 2, 1)] }, meta)).rejects.toThrow('predicted class 4 for /images/b.jpg is outside 0..3');
  });
});
