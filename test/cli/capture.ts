/** Runs the samflow CLI in-process with its standard output and error captured. */
import { afterEach, beforeEach, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';

export function captureCli() {
  const captured = { out: '', err: '' };
  beforeEach(() => {
    captured.out = '';
    captured.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((captured.out += String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((captured.err += String(chunk)), true));
  });
  afterEach(() => vi.restoreAllMocks());
  return captured;
}

export const samflow = (...args: string[]) => main(['node', 'samflow', ...args]);
