import { beforeAll, describe, expect, it } from 'vitest';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { parameterReport } from '../../../src/nodes/adapters/report.ts';
import { SAM_PRESETS } from '../../../src/nodes/sam/config.ts';
import { createSamModel } from '../../../src/nodes/sam/model.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { captureCli, samflow } from '../../cli/capture.ts';
import { TINY_SAM } from '../../fixtures/sam-configs.ts';
import { useBackend } from '../../fixtures/tensors.ts';

const output = captureCli();
const group = (r: { groups: readonly { name: string; parameters: number; trainable: number }[] }, name: string) => r.groups.find((g) => g.name === name)!;

describe('TA-LoRA parameter counts (spec ta-lora.md §1.6)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  // Per block, R = 32/32/4, T = 3, all of q, k, v: d·32 + 3d·32 + 3·4 + 32·32·4; encoder LayerNorms: depth × 2 norms × (weight + bias) × d.
  it.each([
    ['vit_b', 768, 12, 1_228_944, 36_864],
    ['vit_l', 1024, 24, 3_244_320, 98_304],
    ['vit_h', 1280, 32, 5_374_336, 163_840],
  ] as const)('%s: the Tucker factors and the trainable encoder LayerNorms', (arch, d, depth, tucker, norms) => {
    expect(depth * (d * 32 + 3 * d * 32 + 12 + 4096)).toBe(tucker);
    expect(depth * 2 * 2 * d).toBe(norms);
    const report = parameterReport(SAM_PRESETS[arch], parseAdapterConfig({ method: 'ta-lora', tasks: 3, trainDecoder: false }));
    expect(group(report, 'ta-lora adapters')).toEqual({ name: 'ta-lora adapters', parameters: tucker, trainable: tucker });
    expect(group(report, 'image encoder').trainable).toBe(norms);
    expect(report.trainable).toBe(tucker + norms);
  });

  it('samflow peft-report --method ta-lora --tasks 3 prints the vit_b counts', async () => {
    // 93,735,728 SAM vit_b parameters + 1,228,944 Tucker factors = 94,964,672; trainable 1,228,944 + 36,864 = 1,265,808 (1.3329 %).
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'ta-lora', '--tasks', '3', '--no-train-decoder')).toBe(0);
    expect(output.out).toContain('ta-lora adapters           1,228,944 params,   1,228,944 trainable');
    expect(output.out).toContain('image encoder             89,670,912 params,      36,864 trainable');
    expect(output.out).toContain('trainable params: 1,265,808 || all params: 94,964,672 || trainable%: 1.3329');
    output.out = '';
    // With the 1-token decoder (3,505,536) as every method counts it by default.
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'ta-lora', '--tasks', '3')).toBe(0);
    expect(output.out).toContain('trainable params: 4,771,344 || all params: 94,964,672 || trainable%: 5.0243');
    output.out = '';
    // U3 grows with T only: T = 1 is 12 × 2·4 fewer; other ranks: 12 × (768·8 + 2304·8 + 3·2 + 8·8·2) = 296,520.
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'ta-lora', '--json')).toBe(0);
    expect(group(JSON.parse(output.out), 'ta-lora adapters').parameters).toBe(1_228_944 - 12 * 2 * 4);
    output.out = '';
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'ta-lora', '--tasks', '3', '--tucker-ranks', '8,8,2', '--json')).toBe(0);
    expect(group(JSON.parse(output.out), 'ta-lora adapters').parameters).toBe(296_520);
  });

  it('the live model holds what the report counts (tiny SAM: d 32, 2 blocks)', () => {
    const m = createSamModel(TINY_SAM, randomSamParams(TINY_SAM, 1), 'random:1');
    // 2 × (32·32 + 96·32 + 3·4 + 32·32·4) = 16,408 factors, 2 × 2 × 2 × 32 = 256 LayerNorm parameters.
    const report = injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3, trainDecoder: false }));
    expect(report.trainable).toBe(16_408 + 256);
    // enable_qkv (q, v): U2 is 2d × R2, 2 × (32·32 + 64·32 + 12 + 4096) = 14,360; LayerNorms can be kept frozen.
    const qv = injectAdapter(createSamModel(TINY_SAM, randomSamParams(TINY_SAM, 1), 'random:1'), parseAdapterConfig({ method: 'ta-lora', tasks: 3, enableQkv: [true, false, true], trainDecoder: false, trainEncoderNorms: false }));
    expect(qv.trainable).toBe(14_360);
    // Other methods can opt into the LayerNorms (the LoRA baselines of spec §4).
    expect(parameterReport(TINY_SAM, parseAdapterConfig({ method: 'lora', trainDecoder: false, trainEncoderNorms: true })).trainable).toBe(2 * 3 * (32 + 96) + 256);
  });
});
