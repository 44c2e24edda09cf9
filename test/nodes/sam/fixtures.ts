/** Loading the PyTorch reference fixtures written by test/fixtures/sam/make_fixtures.py. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readNpy } from '../../../src/nodes/data/npy.ts';
import { parseSamConfig } from '../../../src/nodes/sam/config.ts';

export const FIXTURES = new URL('../../fixtures/sam/', import.meta.url).pathname;
export const tinyConfig = () => parseSamConfig(JSON.parse(readFileSync(`${FIXTURES}arch.json`, 'utf8')), 'arch.json');

export function fixture(name: string): tf.Tensor {
  const { shape, data } = readNpy(readFileSync(`${FIXTURES}${name}.npy`), name);
  return tf.tensor(Float32Array.from(data as Float32Array), [...shape]);
}

/** NCHW fixture as NHWC. */
export const nhwc = (name: string) => fixture(name).transpose([0, 2, 3, 1]) as tf.Tensor4D;

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

export const BACKENDS = ['cpu', 'wasm'] as const;
export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
}
