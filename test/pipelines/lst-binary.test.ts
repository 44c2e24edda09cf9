import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import { run } from '../../src/graph/run.ts';
import { SAM_PRESETS, type SamConfig } from '../../src/nodes/sam/config.ts';
import { TensorWorker } from '../../workers/host.ts';
import { convLoraBinary } from '../../pipelines/conv-lora-binary.ts';

const TINY: SamConfig = {
  ...SAM_PRESETS.vit_b,
  image_size: 32,
  patch_size: 4,
  encoder_embed_dim: 32,
  encoder_depth: 2,
  encoder_num_heads: 2,
  encoder_global_attn_indexes: [1],
  window_size: 4,
  prompt_embed_dim: 32,
  decoder_mlp_dim: 64,
  decoder_num_heads: 2,
  iou_head_hidden_dim: 32,
};

describe('the binary pipeline with method lst', () => {
  it('learns on held-out images, reports what trains, and keeps tensors flat', async () => {
    const graph = convLoraBinary({ arch: TINY, method: 'lst', epochs: 4, train: 24, val: 8, lr: 1e-2 });
    const events = await lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 4 * 32 });
    const mean = (name: string, split: string, epoch: number) => {
      const v = events.flatMap((e) => (e.type === 'metric' && e.name === name && e.split === split && e.epoch === epoch ? [e.value] : []));
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    expect(mean('loss', 'val', 3)).toBeLessThan(0.8 * mean('loss', 'val', 0));
    expect(mean('iou', 'val', 3)).toBeGreaterThan(mean('iou', 'val', 0) + 0.2);
    // d 32 / r 8 = 4 channels (2 heads of 2, MLP 16): ladders 3 × (32·4 + 4), gates 2, side blocks
    // 2 × 244, rel-pos 2·7·2 (window 4) + 2·15·2 (global, grid 8), up-projection 4·32 + 32
    const report = events.find((e) => e.type === 'log' && e.node === 'peft');
    expect(396 + 2 + 488 + 28 + 60 + 160).toBe(1134);
    expect(report).toMatchObject({ message: expect.stringMatching(/lst adapters +1,134 params, +1,134 trainable/) });
    const progress = events.flatMap((e) => (e.type === 'progress' && e.tensors !== undefined ? [e] : []));
    expect(new Set(progress.filter((e) => e.epoch === 3).map((e) => e.tensors)).size).toBe(1);
  });
});
