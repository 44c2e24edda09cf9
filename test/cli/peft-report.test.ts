import { describe, expect, it } from 'vitest';
import { captureCli, samflow } from './capture.ts';

const output = captureCli();

describe('samflow peft-report', () => {
  it('prints the Conv-LoRA report for vit_b (119,232 adapter parameters, spec §1.2)', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'conv-lora', '--no-train-decoder')).toBe(0);
    expect(output.out).toContain('conv-lora adapters           119,232 params,     119,232 trainable');
    expect(output.out).toContain('trainable params: 119,232 || all params: 93,854,960 || trainable%: 0.1270');
  });

  it('prints JSON, and counts vit_h Conv-LoRA as the spec does (16,080 per layer x 32)', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_h', '--method', 'conv-lora', '--json')).toBe(0);
    const report = JSON.parse(output.out) as { groups: { name: string; parameters: number }[] };
    expect(report.groups.find((g) => g.name === 'conv-lora adapters')!.parameters).toBe(514_560);
  });

  it('counts the official 1-token decoder by default: 3,505,536 decoder parameters train at vit_b', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'conv-lora')).toBe(0);
    expect(output.out).toContain('mask decoder               4,058,340 params,   3,505,536 trainable');
    expect(output.out).toContain('trainable params: 3,624,768 || all params: 93,854,960');
  });

  it('prints the SAM-Adapter report for vit_b (63,312 adapter parameters at the public defaults)', async () => {
    // h = 768 / 32 = 24 channels. Embedding tune: linear 768 -> 24, 768·24 + 24 = 18,456. Handcrafted
    // tune: 16x16 stride-16 conv 3 -> 24, 16·16·3·24 + 24 = 18,456. One lightweight MLP per block:
    // 12 × (24·24 + 24) = 7,200. Shared up-projection 24 -> 768: 24·768 + 768 = 19,200. Sum 63,312;
    // all params 93,735,728 (SAM vit_b) + 63,312 = 93,799,040.
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'sam-adapter', '--no-train-decoder')).toBe(0);
    expect(output.out).toContain('sam-adapter adapters          63,312 params,      63,312 trainable');
    expect(output.out).toContain('trainable params: 63,312 || all params: 93,799,040 || trainable%: 0.0675');
  });

  it('counts SAM-Adapter with the 1-token decoder (63,312 + 3,505,536) and takes --scale-factor', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'sam-adapter')).toBe(0);
    expect(output.out).toContain('trainable params: 3,568,848 || all params: 93,799,040 || trainable%: 3.8048');
    output.out = '';
    // --scale-factor 16: h = 48: 768·48 + 48 + 16·16·3·48 + 48 + 12 × (48·48 + 48) + 48·768 + 768 = 139,680
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'sam-adapter', '--scale-factor', '16', '--json')).toBe(0);
    expect((JSON.parse(output.out) as { groups: { name: string; parameters: number }[] }).groups.find((g) => g.name === 'sam-adapter adapters')!.parameters).toBe(139_680);
  });

  it('prints the LST report for vit_b (2,387,884 side-network parameters at r = 8)', async () => {
    // Side width s = 768 / 8 = 96, 12 heads of 96 / 12 = 8, MLP 96·4 = 384. Ladders (the patch
    // embedding's and one per block), 768 -> 96 with bias: 13 × (768·96 + 96) = 959,712. Gates: 12.
    // Per side block: norms 2 × 2·96 = 384, qkv 96·288 + 288 = 27,936, proj 96·96 + 96 = 9,312,
    // lin1 96·384 + 384 = 37,248, lin2 384·96 + 96 = 36,960: 111,840, × 12 = 1,342,080. Rel-pos
    // tables 2 × (2·span − 1) × 8: 8 windowed blocks (span 14) × 432 + 4 global (span 64) × 2,032
    // = 11,584. Up-projection 96 -> 768: 96·768 + 768 = 74,496. Sum 2,387,884; all params
    // 93,735,728 (SAM vit_b) + 2,387,884 = 96,123,612; with the 1-token decoder 5,893,420 train.
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'lst')).toBe(0);
    expect(output.out).toContain('lst adapters               2,387,884 params,   2,387,884 trainable');
    expect(output.out).toContain('trainable params: 5,893,420 || all params: 96,123,612 || trainable%: 6.1311');
  });

  it.each(['lora', 'conv-lora', 'decoder-only', 'adapter', 'ssf', 'vpt', 'sam-adapter', 'lst', 'bitfit'])('%s trains the 1-token decoder: 3,505,536 at vit_b', async (method) => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', method, '--json')).toBe(0);
    const report = JSON.parse(output.out) as { groups: { name: string; trainable: number }[] };
    expect(report.groups.find((g) => g.name === 'mask decoder')!.trainable).toBe(3_505_536);
  });

  it('--mask-tokens 4 counts SAM\'s whole decoder (all but the IoU head), and a count the decoder lacks is an error', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'conv-lora', '--mask-tokens', '4', '--json')).toBe(0);
    const report = JSON.parse(output.out) as { groups: { name: string; trainable: number }[]; trainable: number };
    expect(report.groups.find((g) => g.name === 'mask decoder')!.trainable).toBe(3_925_728);
    expect(report.trainable).toBe(3_925_728 + 119_232);
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'conv-lora', '--mask-tokens', '5')).toBe(1);
    expect(output.err).toContain('5 mask tokens, but the decoder has 1..4 (num_multimask_outputs + 1)');
  });

  it('names a bad method', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'prefix')).toBe(1);
    expect(output.err).toMatch(/peft-report: 'method': Invalid option: expected one of "lora"\|"conv-lora"/);
  });
});
