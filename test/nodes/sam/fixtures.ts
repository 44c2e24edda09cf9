/** The PyTorch reference fixtures written by test/fixtures/sam/make_fixtures.py. */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import { parseSamConfig } from '../../../src/nodes/sam/config.ts';
import { npyFixtures } from '../../fixtures/tensors.ts';

export { BACKENDS, maxAbsDiff, useBackend } from '../../fixtures/tensors.ts';
export const FIXTURES = new URL('../../fixtures/sam/', import.meta.url).pathname;
export const tinyConfig = () => parseSamConfig(JSON.parse(readFileSync(`${FIXTURES}arch.json`, 'utf8')), 'arch.json');
export const { fixture } = npyFixtures(FIXTURES);

/** NCHW fixture as NHWC. */
export const nhwc = (name: string) => fixture(name).transpose([0, 2, 3, 1]) as tf.Tensor4D;
