import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../../src/nodes/data/npy.ts';
import { listNyuv2Mtan, Nyuv2Mtan } from '../../../src/nodes/data/nyuv2-mtan.ts';
import { drain, schedule, tempDir, writeNyu } from '../../fixtures/datasets.ts';

describe('MTAN NYUv2', () => {
  it('reads {train,val}/{image,label,depth,normal}/N.npy into image, class ids (-1 -> 255), depth and normals', async () => {
    const root = writeNyu(tempDir());
    expect(listNyuv2Mtan(root).splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 3], ['val', 2]]);
    const { items } = await drain(Nyuv2Mtan.main, Nyuv2Mtan.params.parse({ root, shuffle: false }));
    expect(schedule(items)).toEqual(['train:0', 'train:0', 'train:0!', 'val:0', 'val:0!']);
    const { image, label, depth, normal } = items[1]!.values;
    expect([image.width, image.height, image.channels, label.channels, depth.channels, normal.channels]).toEqual([12, 9, 3, 1, 1, 3]);
    expect(image.data[0]).toBe(Math.round((1 / 7) * 255)); // sample 1, pixel 0: (0 + 1) % 7 / 7
    expect(label.data[4]).toBe(255);
    expect(label.data[0]).toBe(1);
    expect(depth.data[0]).toBe(0);
    expect(depth.data[1]).toBeCloseTo(1.7, 6);
    expect([...normal.data.subarray(0, 3)].map((v) => +v.toFixed(6))).toEqual([0.6, 0, 0.8]);
  });

  it('names a sample missing one of its files, and an array of the wrong shape', async () => {
    const root = writeNyu(tempDir());
    rmSync(join(root, 'train', 'depth', '2.npy'));
    expect(listNyuv2Mtan(root).unpaired.map((u) => u.reason)).toEqual(['sample 2 has no depth/2.npy', 'sample 2 has no depth/2.npy', 'sample 2 has no depth/2.npy']);
    writeFileSync(join(root, 'val', 'normal', '0.npy'), writeNpy(new Float32Array(12 * 9 * 2), [9, 12, 2]));
    await expect(drain(Nyuv2Mtan.main, Nyuv2Mtan.params.parse({ root, splits: ['val'], skipUnpaired: true }))).rejects.toThrow(
      `${join(root, 'val', 'normal', '0.npy')}: normal has shape [9, 12, 2]; expected [H, W, 3]`,
    );
  });
});
