import { describe, expect, it } from 'vitest';
import { SAM_PRESETS, parseSamConfig, resolveSamConfig } from '../../../src/nodes/sam/config.ts';

describe('SAM config', () => {
  it('has the official presets', () => {
    expect(resolveSamConfig('vit_h')).toMatchObject({ encoder_embed_dim: 1280, encoder_depth: 32, encoder_num_heads: 16, encoder_global_attn_indexes: [7, 15, 23, 31] });
    for (const preset of Object.values(SAM_PRESETS)) expect(parseSamConfig(preset)).toEqual(preset);
  });

  it('names each impossible combination', () => {
    const bad = { ...SAM_PRESETS.vit_b, image_size: 1000, encoder_num_heads: 7, encoder_global_attn_indexes: [2, 12] };
    expect(() => parseSamConfig(bad, 'arch.json')).toThrow(
      "arch.json: impossible config: image_size 1000 is not a multiple of patch_size 16; encoder_embed_dim 768 is not divisible by encoder_num_heads 7; encoder_global_attn_indexes has 12, but there are only 12 blocks (0..11)",
    );
    expect(() => parseSamConfig({ ...SAM_PRESETS.vit_b, image_size: 128, window_size: 14 }, 'arch.json')).toThrow('window_size 14 is larger than the 8x8 token grid');
  });

  it('rejects unknown and mistyped keys by name', () => {
    expect(() => parseSamConfig({ ...SAM_PRESETS.vit_b, encoder_dim: 3 }, 'arch.json')).toThrow(/arch.json: .*Unrecognized key.*encoder_dim/);
    expect(() => parseSamConfig({ ...SAM_PRESETS.vit_b, window_size: '14' }, 'arch.json')).toThrow(/'window_size': .*expected number/);
    expect(() => resolveSamConfig('vit_x')).toThrow("unknown SAM preset 'vit_x' (expected vit_b, vit_l, vit_h or a config file)");
  });
});
