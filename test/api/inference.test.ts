/**
 * eval and predict from a run folder alone: a run trained on a Kvasir-style folder, evaluated
 * on a CVC-ClinicDB-style folder (images/ + masks/ as TIFFs of other sizes) and used to predict
 * masks for its images. The metrics are computed at each ground truth's own size, so IoU from
 * the predicted PNGs (written at the image's size) equals the evaluation's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, predict } from '../../src/api/inference.ts';
import { train } from '../../src/api/training.ts';
import { captureCli, samflow } from '../cli/capture.ts';
import { tempDir, writeKvasir, writePairs } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

const names = (n: number) => Array.from({ length: n }, (_, i) => `${100 + i}`);

async function grey(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(path).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe('eval and predict', () => {
  const dir = tempDir('samflow-infer-');
  const run = join(dir, 'run');
  const cvc = join(dir, 'CVC-ClinicDB');

  beforeAll(async () => {
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
    await writeKvasir(join(dir, 'kvasir'), 10);
    await writePairs(cvc, 'images', 'masks', names(4), { image: '.tif', mask: '.tif' }, { width: 45, height: 37 });
    const started = await train({ pipeline: 'conv-lora-binary', options: { arch: join(dir, 'tiny.json'), data: join(dir, 'kvasir'), epochs: 2, lr: 1e-2 }, out: run });
    expect((await lastValueFrom(started.events.pipe(toArray()))).at(-1)).toMatchObject({ type: 'finished' });
  });

  it('evaluates the best checkpoint on another folder at the ground truth’s own size, and predicts masks at the image’s size that agree', async () => {
    const evaluation = await evaluate({ run, data: cvc });
    expect(evaluation.dir).toBe(join(run, 'eval', 'CVC-ClinicDB'));
    expect(evaluation.checkpoint).toMatch(/checkpoints\/epoch-[12]$/);
    await lastValueFrom(evaluation.events.pipe(toArray()));
    const result = JSON.parse(readFileSync(join(evaluation.dir, 'metrics.json'), 'utf8')) as { images: number; metrics: Record<string, number> };
    expect(result.images).toBe(4);
    expect(Object.keys(result.metrics).sort()).toEqual(['ber', 'dice', 'em', 'iou', 'mae', 'sm', 'wfm']);
    const csv = readFileSync(join(evaluation.dir, 'per-image.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('id,iou,dice,sm,em,wfm,mae,ber');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(names(4));

    const masks = join(dir, 'masks');
    const prediction = await predict({ run, images: join(cvc, 'images'), out: masks });
    const events = await lastValueFrom(prediction.events.pipe(toArray()));
    expect(events.find((e) => e.type === 'log' && e.node === 'write')).toMatchObject({ message: `wrote 4 mask PNGs to ${masks}` });
    const ious: number[] = [];
    for (const name of names(4)) {
      const predicted = await grey(join(masks, `${name}.png`));
      const truth = await grey(join(cvc, 'masks', `${name}.tif`));
      expect([predicted.width, predicted.height]).toEqual([45, 37]);
      let inter = 0;
      let union = 0;
      predicted.data.forEach((p, i) => {
        const a = p > 127;
        const b = truth.data[i]! > 127;
        inter += a && b ? 1 : 0;
        union += a || b ? 1 : 0;
      });
      ious.push(union ? inter / union : 0);
    }
    const perImage = csv.slice(1).map((l) => Number(l.split(',')[1]));
    perImage.forEach((v, i) => expect(v).toBeCloseTo(ious[i]!, 10));
    expect(result.metrics.iou).toBeCloseTo(ious.reduce((a, b) => a + b, 0) / 4, 10);

    await expect(evaluate({ run, data: cvc })).rejects.toThrow(`${join(run, 'eval', 'CVC-ClinicDB')} exists: this run was already evaluated under the name 'CVC-ClinicDB'; give another --name`);
    await expect(predict({ run, images: join(cvc, 'images'), out: masks })).rejects.toThrow(`${masks} already holds 4 mask(s) for these images (100.png, 101.png, 102.png, ...); predict never overwrites: choose another --out`);
  });

  it('warm-starts a new run from a checkpoint’s adapter, and refuses one whose config differs', async () => {
    const adapter = join(run, 'checkpoints', 'epoch-2', 'peft');
    const options = { arch: join(dir, 'tiny.json'), data: join(dir, 'kvasir'), epochs: 1, warmStart: adapter };
    const warm = await lastValueFrom((await train({ pipeline: 'conv-lora-binary', options, out: join(dir, 'warm') })).events.pipe(toArray()));
    expect(warm.find((e) => e.type === 'log' && e.node === 'peft')).toMatchObject({ message: expect.stringMatching(new RegExp(`^adapter weights from ${adapter}\n`)) });
    const other = await lastValueFrom((await train({ pipeline: 'conv-lora-binary', options: { ...options, rank: 4 }, out: join(dir, 'other') })).events.pipe(toArray()));
    expect(other.at(-1)).toMatchObject({ type: 'failed', node: 'peft', error: expect.stringContaining(`${adapter}.json holds an adapter with another config than this node's (rank: 3 → 4)`) });
  });

  it("evaluates 'val' of a folder without one on the part of train that training held out: the run's own validation figures", async () => {
    const evaluation = await evaluate({ run, data: join(dir, 'kvasir'), split: 'val', checkpoint: 'last', metrics: ['iou', 'dice', 'sm', 'mae'] });
    await lastValueFrom(evaluation.events.pipe(toArray()));
    const result = JSON.parse(readFileSync(join(evaluation.dir, 'metrics.json'), 'utf8')) as { images: number; split: string; metrics: Record<string, number> };
    // 10 images, 20 % held out; the last epoch's validation of the same weights.
    expect(result).toMatchObject({ images: 2, split: 'val' });
    const logged = readFileSync(join(run, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; split?: string; epoch?: number; name?: string; value?: number });
    for (const name of ['iou', 'dice', 'sm', 'mae']) {
      const validated = logged.filter((e) => e.type === 'metric' && e.split === 'val' && e.epoch === 1 && e.name === name).at(-1);
      expect(result.metrics[name], name).toBeCloseTo(validated!.value!, 6);
    }
  });

  describe('from the command line', () => {
    const output = captureCli();
    it('evaluates a chosen checkpoint and says when the recorded base weights moved', async () => {
      expect(await samflow('eval', run, '--data', cvc, '--checkpoint', 'last', '--metrics', 'iou,sm', '--name', 'cvc-last')).toBe(0);
      expect(output.out).toMatch(/4 images \(train\): iou \d\.\d{4}, sm \d\.\d{4}/);
      expect(await samflow('eval', run, '--data', cvc, '--metrics', 'iou,fm')).toBe(1);
      expect(output.err).toBe('samflow: --metrics: unknown fm (expected some of iou, dice, sm, em, wfm, mae, ber)\n');
      expect(await samflow('eval', run, '--data', cvc, '--checkpoint', 'epoch-9')).toBe(1);
      expect(output.err).toMatch(/no checkpoint 'epoch-9'; the run has epoch-\d/);
      const record = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { options: Record<string, unknown> };
      writeFileSync(join(run, 'run.json'), JSON.stringify({ ...record, options: { ...record.options, checkpoint: join(dir, 'gone.pth') } }));
      expect(await samflow('eval', run, '--data', cvc, '--name', 'moved')).toBe(1);
      expect(output.err).toContain(`the base checkpoint ${join(dir, 'gone.pth')} recorded in ${join(run, 'run.json')} is not there; pass --base-checkpoint`);
      writeFileSync(join(run, 'run.json'), JSON.stringify(record));
    });

    it('evaluates every test split of a PraNet-style folder with --split tests, one folder each', async () => {
      const pranet = join(dir, 'polyp');
      await writePairs(pranet, 'TrainDataset/images', 'TrainDataset/masks', names(2), { image: '.png', mask: '.png' });
      await writePairs(pranet, 'TestDataset/Kvasir/images', 'TestDataset/Kvasir/masks', names(3), { image: '.png', mask: '.png' });
      await writePairs(pranet, 'TestDataset/CVC-ClinicDB/images', 'TestDataset/CVC-ClinicDB/masks', names(2), { image: '.tif', mask: '.tif' }, { width: 30, height: 20 });
      expect(await samflow('eval', run, '--data', pranet, '--split', 'tests', '--metrics', 'iou,sm')).toBe(0);
      expect(output.out).toMatch(/2 images \(test\/CVC-ClinicDB\): iou \d\.\d{4}, sm \d\.\d{4}\n.*\n3 images \(test\/Kvasir\): iou/);
      for (const [name, images] of [['polyp-test-Kvasir', 3], ['polyp-test-CVC-ClinicDB', 2]] as const) {
        expect(JSON.parse(readFileSync(join(run, 'eval', name, 'metrics.json'), 'utf8'))).toMatchObject({ images, split: name.replace('polyp-test-', 'test/') });
      }
      expect(await samflow('eval', run, '--data', pranet, '--split', 'tests', '--name', 'x')).toBe(1);
      expect(output.err).toContain("--name names one evaluation, but --split gives 2");
    });

    it('takes reader options for the evaluated folder with --set, checked against the pipeline', async () => {
      const unpaired = join(dir, 'unpaired');
      await writePairs(unpaired, 'images', 'masks', names(3), { image: '.png', mask: '.png' });
      writeFileSync(join(unpaired, 'images', 'stray.png'), readFileSync(join(unpaired, 'images', '100.png')));
      expect(await samflow('eval', run, '--data', unpaired)).toBe(1);
      expect(output.out).toContain('--set skipUnpaired=true on samflow train/run/eval');
      expect(await samflow('eval', run, '--data', unpaired, '--set', 'skipUnpaired=true')).toBe(0);
      expect(output.out).toMatch(/3 images \(train\): iou/);
      expect(await samflow('eval', run, '--data', unpaired, '--set', 'skipUnpaird=true', '--name', 'typo')).toBe(1);
      expect(output.err).toMatch(/--set skipUnpaird: pipeline 'conv-lora-binary' has no option 'skipUnpaird' \(its options: .*skipUnpaired/);
    });
  });
});
