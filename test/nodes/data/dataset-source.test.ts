import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ReaderParams, readerSource } from '../../../src/nodes/data/dataset-source.ts';
import { DecodeError } from '../../../src/nodes/data/decode.ts';
import type { Entry, Listing } from '../../../src/nodes/data/listing.ts';
import { PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { drain, schedule, tempDir, writeKvasir } from '../../fixtures/datasets.ts';

const entries = (split: string, n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ id: `${split}${i}`, files: { image: `${split}${i}.png` } }));

function fakeReader(options: { train?: number; val?: number; corrupt?: string[]; broken?: string } = {}) {
  const decoded: string[] = [];
  const listing: Listing = {
    layout: 'paired-folders',
    variant: 'fake',
    description: 'fake',
    root: '/fake',
    targets: 'binary',
    splits: [
      { name: 'train', where: 'train', entries: entries('t', options.train ?? 6) },
      ...(options.val === 0 ? [] : [{ name: 'val', where: 'val', entries: entries('v', options.val ?? 3) }]),
    ],
    unpaired: [],
    ignored: [],
  };
  const behaviour = readerSource(ReaderParams, {
    list: () => listing,
    decode: async (entry) => {
      decoded.push(entry.id);
      if (options.corrupt?.includes(entry.id)) throw new DecodeError(entry.files.image!, 'cannot decode the image: truncated');
      if (entry.id === options.broken) throw new Error('a bug, not a bad file');
      return { id: entry.id };
    },
  });
  return { behaviour, decoded };
}

const parse = (extra: Partial<z.input<typeof ReaderParams>> = {}) => ReaderParams.parse({ root: '/fake', ...extra });
const ids = (items: { values: { id: string } }[]) => items.map((i) => i.values.id);

describe('reader source', () => {
  it('reshuffles train every epoch by seed and keeps val in file order', async () => {
    const { behaviour } = fakeReader();
    const { items } = await drain(behaviour, parse({ epochs: 2 }), 5);
    expect(schedule(items)).toEqual([...Array(5).fill('train:0'), 'train:0!', 'val:0', 'val:0', 'val:0!', ...Array(5).fill('train:1'), 'train:1!', 'val:1', 'val:1', 'val:1!']);
    const train0 = ids(items.slice(0, 6) as never);
    const train1 = ids(items.slice(9, 15) as never);
    expect(new Set(train0)).toEqual(new Set(['t0', 't1', 't2', 't3', 't4', 't5']));
    expect(train1).not.toEqual(train0);
    expect(ids(items.slice(6, 9) as never)).toEqual(['v0', 'v1', 'v2']);
    expect(ids((await drain(behaviour, parse({ epochs: 2 }), 5)).items as never)).toEqual(ids(items as never));
    expect(ids((await drain(behaviour, parse({ epochs: 2, seed: 1 }), 5)).items as never)).not.toEqual(ids(items as never));
    expect(ids((await drain(behaviour, parse({ shuffle: false }), 5)).items as never)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 'v0', 'v1', 'v2']);
    expect(behaviour.total!(parse({ epochs: 3 }))).toBe(27);
  });

  it('decodes a sample only when the runner pulls it', async () => {
    const { behaviour, decoded } = fakeReader();
    const iterator = (behaviour.create(parse({ shuffle: false }), { node: 'd', kind: 'k', seed: 0, emit: () => undefined, skip: 0 }) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    expect(decoded).toEqual([]);
    await iterator.next();
    await iterator.next();
    expect(decoded).toEqual(['t0', 't1']);
    await iterator.return?.();
    expect(decoded).toEqual(['t0', 't1']);
  });

  it('skips undecodable files with a warning only when asked; other errors always stop', async () => {
    const { behaviour } = fakeReader({ corrupt: ['t2'], broken: 'v1' });
    await expect(drain(behaviour, parse({ shuffle: false }))).rejects.toThrow('t2.png: cannot decode the image: truncated');
    await expect(drain(behaviour, parse({ shuffle: false, skipCorrupt: true }))).rejects.toThrow('a bug, not a bad file');
    const ok = fakeReader({ corrupt: ['t2', 'v2'] });
    const { items, warnings } = await drain(ok.behaviour, parse({ shuffle: false, skipCorrupt: true }));
    expect(ids(items as never)).toEqual(['t0', 't1', 't3', 't4', 't5', 'v0', 'v1']);
    expect(warnings).toEqual([
      "skipped sample 't2' of split 'train': t2.png: cannot decode the image: truncated",
      "skipped sample 'v2' of split 'val': v2.png: cannot decode the image: truncated",
    ]);
  });

  it('holds out a seeded val split when there is none, limits splits, and names splits that do not exist', async () => {
    const { behaviour } = fakeReader({ train: 10, val: 0 });
    const { items } = await drain(behaviour, parse({ holdout: 0.3, shuffle: false }));
    expect(schedule(items).filter((s) => s.startsWith('val'))).toHaveLength(3);
    expect(new Set(ids(items as never))).toEqual(new Set(entries('t', 10).map((e) => e.id)));
    expect(ids((await drain(behaviour, parse({ holdout: 0.3, shuffle: false }))).items as never)).toEqual(ids(items as never));
    expect((await drain(behaviour, parse({ limit: 2 }))).items).toHaveLength(2);
    await expect(drain(behaviour, parse({ splits: ['test'] }))).rejects.toThrow("/fake: no split 'test'; the data set has 'train' (10)");
  });

  it('on real files: a truncated JPEG stops the run naming it, or is skipped with a warning', async () => {
    const root = await writeKvasir(tempDir(), 3);
    writeFileSync(join(root, 'images', 'cju1.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const params = (extra = {}) => PairedFolders.params.parse({ root, shuffle: false, ...extra });
    await expect(drain(PairedFolders.main, params())).rejects.toThrow(`${join(root, 'images', 'cju1.jpg')}: cannot decode the image`);
    const { items, warnings } = await drain(PairedFolders.main, params({ skipCorrupt: true }));
    expect(items).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(join(root, 'images', 'cju1.jpg'));
  });
});
