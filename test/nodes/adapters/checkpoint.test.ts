import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadAdapterCheckpoint, saveAdapterCheckpoint } from '../../../src/nodes/adapters/checkpoint.ts';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { createSamModel, type SamModel } from '../../../src/nodes/sam/model.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { maxAbsDiff, tinyConfig, useBackend } from '../sam/fixtures.ts';

const base = (seed = 1): SamModel => createSamModel(tinyConfig(), randomSamParams(tinyConfig(), seed), `random:${seed}`);
const outputs = (m: SamModel) =>
  tf.tidy(() => {
    m.adapters.forEach((a) => a.beginStep?.(false, 0));
    const o = samForward(tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 9) as tf.Tensor4D, {}, m.params, m.config);
    return tf.concat([o.masks.flatten(), o.iou.flatten()]);
  });

describe.each(['lora', 'conv-lora', 'ssf', 'sam-adapter', 'lst'] as const)('%s adapter checkpoint', (method) => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('round-trips: save, load onto a fresh copy of the base, identical outputs', async () => {
    const trained = base();
    const config = parseAdapterConfig({ method });
    injectAdapter(trained, config);
    let s = 1;
    for (const v of [...trained.adapters[0]!.weights.values(), ...trained.unfrozen.values()]) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', s++)));
    const path = join(mkdtempSync(join(tmpdir(), 'adapter-')), 'run');
    const manifest = await saveAdapterCheckpoint(trained, config, path);
    expect(manifest).toMatchObject({ format: 'samflow-adapter@1', method, baseId: 'random:1', layout: 'tfjs' });
    expect(existsSync(`${path}.safetensors.tmp`)).toBe(false);

    const restored = base();
    await loadAdapterCheckpoint(restored, path);
    expect(maxAbsDiff(outputs(restored), outputs(trained))).toBe(0);
    expect(maxAbsDiff(outputs(restored), outputs(base()))).toBeGreaterThan(1e-4);
  });

  it('refuses a different base, naming both', async () => {
    const trained = base();
    const config = parseAdapterConfig({ method });
    injectAdapter(trained, config);
    const path = join(mkdtempSync(join(tmpdir(), 'adapter-')), 'run');
    await saveAdapterCheckpoint(trained, config, path);
    await expect(loadAdapterCheckpoint(base(2), path)).rejects.toThrow(`${path}: the adapter was trained on base weights random:1, but this model's base is random:2; load it onto the same base checkpoint`);
  });
});

describe('adapter checkpoint errors', () => {
  it('a truncated weights file or a missing manifest is an error naming the file', async () => {
    const trained = base();
    const config = parseAdapterConfig({ method: 'lora' });
    injectAdapter(trained, config);
    const path = join(mkdtempSync(join(tmpdir(), 'adapter-')), 'run');
    await saveAdapterCheckpoint(trained, config, path);
    const bytes = readFileSync(`${path}.safetensors`);
    writeFileSync(`${path}.safetensors`, bytes.subarray(0, bytes.length - 40));
    await expect(loadAdapterCheckpoint(base(), path)).rejects.toThrow(/run\.safetensors: truncated: tensor '.+' ends at byte/);
    await expect(loadAdapterCheckpoint(base(), join(tmpdir(), 'nope'))).rejects.toThrow(/nope\.json: cannot read the adapter manifest/);
  });
});
