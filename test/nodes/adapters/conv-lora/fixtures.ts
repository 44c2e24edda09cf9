/** Loading the PyTorch reference fixtures written by test/fixtures/conv-lora/make_fixtures.py. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readNpy } from '../../../../src/nodes/data/npy.ts';

export const FIXTURES = new URL('../../../fixtures/conv-lora/', import.meta.url).pathname;

export function fixtureData(name: string): { shape: number[]; data: Float32Array } {
  const { shape, data } = readNpy(readFileSync(`${FIXTURES}${name}.npy`), name);
  return { shape: [...shape], data: Float32Array.from(data as Float32Array) };
}

export function fixture(name: string): tf.Tensor {
  const { shape, data } = fixtureData(name);
  return tf.tensor(data, shape);
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

export const BACKENDS = ['cpu', 'wasm'] as const;
export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
}
