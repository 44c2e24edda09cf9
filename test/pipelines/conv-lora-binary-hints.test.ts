/**
 * Every hint an error gives about a reader or loader option can be followed on the command
 * line: each test hits the error, types what it says, and sees the run get past it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli, samflow } from '../cli/capture.ts';
import { rectSample, tempDir, writeKvasir, writePairs, writeRaster } from '../fixtures/datasets.ts';
import { FIXTURES } from '../nodes/sam/fixtures.ts';

const output = captureCli();

/** `samflow run conv-lora-binary` on `data` with the tiny fixture architecture, one epoch, into a fresh folder. */
const runOn = (data: string, ...sets: string[]) =>
  samflow('run', 'conv-lora-binary', '--set', `data=${data}`, '--set', `arch=${FIXTURES}arch.json`, '--epochs', '1', ...sets.flatMap((s) => ['--set', s]), '--out', join(tempDir('samflow-hint-'), 'run'));

describe('hints that name what can be typed', () => {
  it('files without a partner: --set skipUnpaired=true', async () => {
    const root = await writeKvasir(tempDir(), 5);
    await writePairs(root, 'images', 'elsewhere', ['lonely'], { image: '.jpg', mask: '.png' });
    expect(await runOn(root)).toBe(1);
    expect(output.err).toContain("Fix the data set, or leave them out with --set skipUnpaired=true on samflow train/run/eval (the reader param 'skipUnpaired' in a graph of your own).\n");
    output.err = '';
    expect(await runOn(root, 'skipUnpaired=true')).toBe(0);
    expect(output.out).toContain('left out 1 file(s) without a partner (skipUnpaired)');
  });

  it('a mask of another size: --set resizeMasks=true', async () => {
    const root = await writeKvasir(tempDir(), 5);
    await writeRaster(join(root, 'masks', 'cju2.jpg'), rectSample(12, 8, 2).mask);
    expect(await runOn(root)).toBe(1);
    expect(output.out + output.err).toContain(
      `${join(root, 'masks', 'cju2.jpg')}: mask is 12x8 but its image ${join(root, 'images', 'cju2.jpg')} is 24x16; to resize masks to their image (nearest neighbour): --set resizeMasks=true on samflow train/run/eval`,
    );
    output.out = '';
    expect(await runOn(root, 'resizeMasks=true')).toBe(0);
  });

  it('a file that cannot be decoded: --set skipCorrupt=true leaves it out with a warning', async () => {
    const root = await writeKvasir(tempDir(), 5);
    writeFileSync(join(root, 'images', 'cju1.jpg'), 'not a jpeg');
    expect(await runOn(root)).toBe(1);
    expect(output.out + output.err).toContain(`${join(root, 'images', 'cju1.jpg')}: cannot decode the image`);
    output.out = '';
    expect(await runOn(root, 'skipCorrupt=true')).toBe(0);
    expect(output.out).toContain(`skipped sample 'cju1'`);
  });

  it('a checkpoint of another architecture: --set allowPartial=true, which lists the tensors left random', async () => {
    const root = await writeKvasir(tempDir(), 5);
    const checkpoint = `checkpoint=${FIXTURES}tiny_partial.pth`;
    // The paper recipe (with a checkpoint) accumulates 4 batches: one update needs more images than this set has.
    expect(await runOn(root, checkpoint, 'accumulate=1')).toBe(1);
    expect(output.out + output.err).toContain(
      "  Check the arch against the checkpoint, or load what matches with --set allowPartial=true on samflow train/run (param 'allowPartial' of node 'sam' in a graph of your own).",
    );
    output.out = '';
    expect(await runOn(root, checkpoint, 'accumulate=1', 'allowPartial=true')).toBe(0);
    expect(output.out).toContain(
      `[sam] loaded 171 tensors from ${FIXTURES}tiny_partial.pth (pytorch, official names); kept random (3): image_encoder.blocks.0.norm1.bias, prompt_encoder.no_mask_embed.weight, mask_decoder.iou_token.weight`,
    );
  });

  it('a checkpoint that is not there fails before anything runs, naming the option', async () => {
    const root = await writeKvasir(tempDir(), 2);
    const out = join(tempDir(), 'run');
    expect(await samflow('run', 'conv-lora-binary', '--set', `data=${root}`, '--set', 'checkpoint=/nonexistent/sam_vit_b.pth', '--out', out)).toBe(1);
    expect(output.err).toBe("samflow: option 'checkpoint': /nonexistent/sam_vit_b.pth: no such file (expected SAM weights: an official .pth or a Hugging Face .safetensors)\n");
  });

  it('an empty split after a holdout says so; --set holdout and limit reach the reader', async () => {
    const root = await writeKvasir(tempDir(), 2);
    expect(await runOn(root)).toBe(1);
    expect(output.err).toBe(`samflow: ${root}: split 'val' has no samples:\n  holdout 0.2 of 2 'train' sample(s) moves 0 to 'val' and leaves 2 in 'train'\n`);
    output.err = '';
    expect(await runOn(root, 'holdout=0.5', 'limit=2')).toBe(0);
  });

  it('reader options without data=DIR are errors that say why', async () => {
    expect(await samflow('run', 'conv-lora-binary', '--set', 'skipUnpaired=true')).toBe(1);
    expect(output.err).toMatch(/^samflow: pipeline 'conv-lora-binary': bad option 'skipUnpaired': applies to a data set folder; give data=DIR too \(the synthetic set has no files to read\)/);
    output.err = '';
    expect(await samflow('run', 'conv-lora-binary', '--set', 'allowPartial=true')).toBe(1);
    expect(output.err).toMatch(/^samflow: pipeline 'conv-lora-binary': bad option 'allowPartial': applies to loading checkpoint=FILE; without one the weights are random anyway/);
  });

  it('masks stored as 0/1: --mask-threshold 0 for data inspect, --set maskThreshold=0 for training', async () => {
    const root = tempDir();
    for (const name of ['a', 'b', 'c']) {
      const s = rectSample(24, 16, 1);
      await writeRaster(join(root, 'images', `${name}.png`), s.image);
      await writeRaster(join(root, 'masks', `${name}.png`), { ...s.mask, data: s.mask.data.map((v) => (v ? 1 : 0)) });
    }
    expect(await samflow('data', 'inspect', root)).toBe(0);
    expect(output.out).toContain('(masks hold only 0 and 1: pass --mask-threshold 0 here and --set maskThreshold=0 to train, or they read as empty)');
    expect(output.out).toMatch(/foreground {8}0\.00% of pixels; 3 empty/);
    output.out = '';
    expect(await samflow('data', 'inspect', root, '--mask-threshold', '0')).toBe(0);
    expect(output.out).toMatch(/foreground {8}[1-9]\d*\.\d\d% of pixels; 0 empty/);
    output.out = '';
    expect(await runOn(root, 'maskThreshold=0', 'holdout=0.34')).toBe(0);
  });

  it('samflow data inspect: --skip-corrupt and --resize-masks go on, as its error says', async () => {
    const root = await writeKvasir(tempDir(), 3);
    writeFileSync(join(root, 'images', 'cju0.jpg'), 'not a jpeg');
    await writeRaster(join(root, 'masks', 'cju1.jpg'), rectSample(10, 10, 0).mask);
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.err).toContain('(--skip-corrupt to go on); 1 mask(s) whose size differs from their image (--resize-masks to go on)');
    expect(await samflow('data', 'inspect', root, '--skip-corrupt', '--resize-masks')).toBe(0);
  });
});
