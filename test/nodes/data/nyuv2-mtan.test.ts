import { describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../../src/nodes/data/npy.ts';
import { listNyuv2Mtan, Nyuv2Mtan, splitsWithoutNormals } from '../../../src/nodes/data/nyuv2-mtan.ts';
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

  it("reads MTAN Cityscapes ({image,label_7,depth}, no normal/): normals all (0, 0, 0), i.e. invalid", async () => {
    const root = tempDir();
    const [h, w] = [4, 8];
    for (const split of ['train', 'val']) {
      const write = (task: string, data: Float32Array, shape: number[]) => {
        mkdirSync(join(root, split, task), { recursive: true });
        writeFileSync(join(root, split, task, '0.npy'), writeNpy(data, shape));
      };
      write('image', new Float32Array(h * w * 3).fill(0.5), [h, w, 3]);
      write('label_7', new Float32Array(h * w).map((_, i) => (i === 0 ? -1 : i % 7)), [h, w]);
      write('depth', new Float32Array(h * w).fill(0.02), [h, w, 1]);
    }
    const listing = listNyuv2Mtan(root, 'label_7');
    expect(listing.description).toContain('no normal/ folder');
    expect(splitsWithoutNormals(listing)).toEqual([join(root, 'train'), join(root, 'val')]);
    // With the default label folder name there is no layout to find.
    expect(() => listNyuv2Mtan(root)).toThrow(`${root}: no MTAN NYUv2 / Cityscapes layout found (expected {train,val}/{image,label,depth[,normal]}/N.npy)`);
    const { items } = await drain(Nyuv2Mtan.main, Nyuv2Mtan.params.parse({ root, labelDir: 'label_7', shuffle: false }));
    expect(items).toHaveLength(2);
    const { label, depth, normal } = items[0]!.values;
    expect([...label.data.subarray(0, 3)]).toEqual([255, 1, 2]);
    expect(depth.data[0]).toBeCloseTo(0.02, 6);
    expect([normal.width, normal.height, normal.channels, normal.data.length]).toEqual([w, h, 3, w * h * 3]);
    expect(normal.data.every((v) => v === 0)).toBe(true);
    // With normal/ present (NYUv2) nothing is reported missing.
    expect(splitsWithoutNormals(listNyuv2Mtan(writeNyu(tempDir())))).toEqual([]);
  });
});
