import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeRandom, loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import { officialName } from '../../../src/nodes/sam/checkpoint/hf-names.ts';
import { SAM_PRESETS } from '../../../src/nodes/sam/config.ts';
import { officialShapes, randomSamParams, tfShape } from '../../../src/nodes/sam/params.ts';
import { FIXTURES, tinyConfig, useBackend } from './fixtures.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'samflow-ckpt-'));

describe('SAM checkpoints', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('lists every missing, unexpected and mismatched key in one error', async () => {
    const file = `${FIXTURES}tiny_partial.pth`;
    await expect(loadSamCheckpoint(file, tinyConfig())).rejects.toThrow(
      [
        `${file}: checkpoint does not match the SAM config (174 tensors expected; official names):`,
        '  missing (2):',
        '    image_encoder.blocks.0.norm1.bias',
        '    mask_decoder.iou_token.weight',
        '  unexpected (1):',
        '    image_encoder.extra.weight',
        '  shape mismatch (1):',
        '    prompt_encoder.no_mask_embed.weight: checkpoint [1, 7], model [1, 32]',
        '  Check --arch against the checkpoint, or pass --allow-partial to load what matches.',
      ].join('\n'),
    );
  });

  it('--allow-partial loads what matches and reports the rest', async () => {
    const { params, report } = await loadSamCheckpoint(`${FIXTURES}tiny_partial.pth`, tinyConfig(), { allowPartial: true });
    expect(report.loaded).toBe(171);
    expect(report.missing).toHaveLength(2);
    expect(params.size).toBe(174);
    expect(params.get('prompt_encoder.no_mask_embed.weight')!.shape).toEqual([1, 32]);
    expect(report.random).toEqual(['image_encoder.blocks.0.norm1.bias', 'prompt_encoder.no_mask_embed.weight', 'mask_decoder.iou_token.weight']);
    expect(describeRandom(report)).toBe('kept random (3): image_encoder.blocks.0.norm1.bias, prompt_encoder.no_mask_embed.weight, mask_decoder.iou_token.weight');
    expect(describeRandom(report, 1)).toBe('kept random (3): image_encoder.blocks.0.norm1.bias, … and 2 more');
  });

  it("ends the mismatch error with the caller's hint", async () => {
    await expect(loadSamCheckpoint(`${FIXTURES}tiny_partial.pth`, tinyConfig(), { hint: 'Pass allowPartial: true.' })).rejects.toThrow(/mask_decoder\.iou_token\.weight[\s\S]*\n {2}Pass allowPartial: true\.$/);
  });

  it('says "no such file" for a checkpoint that is not there', async () => {
    const dir = tmp();
    await expect(loadSamCheckpoint(join(dir, 'gone.pth'), tinyConfig())).rejects.toThrow(new Error(`${join(dir, 'gone.pth')}: no such file (expected a PyTorch checkpoint from torch.save)`));
    await expect(loadSamCheckpoint(join(dir, 'gone.safetensors'), tinyConfig())).rejects.toThrow(new Error(`${join(dir, 'gone.safetensors')}: no such file (expected a .safetensors file)`));
  });

  it('names the file when a .pth is truncated', async () => {
    const dir = tmp();
    const bytes = readFileSync(`${FIXTURES}tiny.pth`);
    writeFileSync(join(dir, 'cut.pth'), bytes.subarray(0, bytes.length - 100));
    await expect(loadSamCheckpoint(join(dir, 'cut.pth'), tinyConfig())).rejects.toThrow(new RegExp(`^${join(dir, 'cut.pth')}: not a PyTorch zip checkpoint, or truncated`));
  });

  it('names the tensor when a safetensors file is truncated', async () => {
    const dir = tmp();
    const bytes = readFileSync(`${FIXTURES}tiny.safetensors`);
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 64));
    await expect(loadSamCheckpoint(join(dir, 'cut.safetensors'), tinyConfig())).rejects.toThrow(/cut\.safetensors: truncated: tensor '.+' ends at byte \d+ but the file has \d+ bytes/);
  });

  it('refuses a checkpoint of another architecture, listing the mismatches', async () => {
    await expect(loadSamCheckpoint(`${FIXTURES}tiny.pth`, SAM_PRESETS.vit_b)).rejects.toThrow(/missing \(\d+\):[\s\S]*shape mismatch \(\d+\):\n {4}image_encoder\.patch_embed\.proj\.weight: checkpoint \[32, 3, 8, 8\], model \[768, 3, 16, 16\]/);
  });

  it('rejects files that are not checkpoints', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x.pth'), 'hello');
    await expect(loadSamCheckpoint(join(dir, 'x.pth'), tinyConfig())).rejects.toThrow(/x\.pth: not a PyTorch zip checkpoint/);
    await expect(loadSamCheckpoint(join(dir, 'x.onnx'), tinyConfig())).rejects.toThrow(/unknown checkpoint type/);
  });

  it('maps Hugging Face names to official ones (pinned key names)', () => {
    expect(officialName('vision_encoder.layers.3.layer_norm1.weight', 3)).toBe('image_encoder.blocks.3.norm1.weight');
    expect(officialName('vision_encoder.neck.layer_norm2.bias', 3)).toBe('image_encoder.neck.3.bias');
    expect(officialName('vision_encoder.patch_embed.projection.weight', 3)).toBe('image_encoder.patch_embed.proj.weight');
    expect(officialName('shared_image_embedding.positional_embedding', 3)).toBe('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix');
    expect(officialName('prompt_encoder.mask_embed.conv3.bias', 3)).toBe('prompt_encoder.mask_downscaling.6.bias');
    expect(officialName('prompt_encoder.point_embed.2.weight', 3)).toBe('prompt_encoder.point_embeddings.2.weight');
    expect(officialName('mask_decoder.upscale_layer_norm.weight', 3)).toBe('mask_decoder.output_upscaling.1.weight');
    expect(officialName('mask_decoder.transformer.layer_norm_final_attn.bias', 3)).toBe('mask_decoder.transformer.norm_final_attn.bias');
    expect(officialName('mask_decoder.transformer.layers.1.layer_norm4.weight', 3)).toBe('mask_decoder.transformer.layers.1.norm4.weight');
    expect(officialName('mask_decoder.output_hypernetworks_mlps.2.proj_in.weight', 3)).toBe('mask_decoder.output_hypernetworks_mlps.2.layers.0.weight');
    expect(officialName('mask_decoder.output_hypernetworks_mlps.2.layers.0.bias', 3)).toBe('mask_decoder.output_hypernetworks_mlps.2.layers.1.bias');
    expect(officialName('mask_decoder.iou_prediction_head.proj_out.weight', 3)).toBe('mask_decoder.iou_prediction_head.layers.2.weight');
    expect(officialName('mask_decoder.iou_prediction_head.proj_out.weight', 5)).toBe('mask_decoder.iou_prediction_head.layers.4.weight');
  });

  it('pins the official key names and shapes of vit_b (count and a sample)', () => {
    const shapes = officialShapes(SAM_PRESETS.vit_b);
    // encoder: patch embed 2 + pos 1 + 12 blocks x 14 + neck 6; prompt encoder 17;
    // decoder: tokens 2 + 2 layers x 36 + final attention 10 + upscaling 6 + 4 hypernetworks x 6 + IoU head 6
    expect(shapes.size).toBe(3 + 12 * 14 + 6 + 17 + 2 + 2 * 36 + 10 + 6 + 24 + 6);
    expect(shapes.get('image_encoder.blocks.2.attn.rel_pos_h')).toEqual([127, 64]);
    expect(shapes.get('image_encoder.blocks.0.attn.rel_pos_w')).toEqual([27, 64]);
    expect(shapes.get('image_encoder.pos_embed')).toEqual([1, 64, 64, 768]);
    expect(shapes.get('mask_decoder.output_upscaling.0.weight')).toEqual([256, 64, 2, 2]);
    expect(tfShape('mask_decoder.output_upscaling.0.weight', [256, 64, 2, 2])).toEqual([256, 2, 2, 64]);
    expect(tfShape('image_encoder.neck.2.weight', [256, 256, 3, 3])).toEqual([3, 3, 256, 256]);
    expect(tfShape('image_encoder.blocks.0.attn.qkv.weight', [2304, 768])).toEqual([768, 2304]);
    expect(tfShape('mask_decoder.mask_tokens.weight', [4, 256])).toEqual([4, 256]);
  });

  it('random initialisation gives every key its shape, seeded', () => {
    const c = tinyConfig();
    const a = randomSamParams(c, 3);
    const b = randomSamParams(c, 3);
    for (const [key, shape] of officialShapes(c)) {
      expect(a.get(key)!.shape, key).toEqual(tfShape(key, shape));
      expect(tf.equal(a.get(key)!, b.get(key)!).all().dataSync()[0], key).toBe(1);
    }
  });
});
