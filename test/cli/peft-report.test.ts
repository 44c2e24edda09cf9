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

  it('names a bad method', async () => {
    expect(await samflow('peft-report', '--arch', 'vit_b', '--method', 'prefix')).toBe(1);
    expect(output.err).toMatch(/peft-report: 'method': Invalid option: expected one of "lora"\|"conv-lora"/);
  });
});
