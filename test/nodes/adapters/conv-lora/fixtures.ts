/** The PyTorch reference fixtures written by test/fixtures/conv-lora/make_fixtures.py. */
import { npyFixtures } from '../../../fixtures/tensors.ts';

export { BACKENDS, maxAbsDiff, useBackend } from '../../../fixtures/tensors.ts';
export const FIXTURES = new URL('../../../fixtures/conv-lora/', import.meta.url).pathname;
export const { fixture, fixtureData } = npyFixtures(FIXTURES);
