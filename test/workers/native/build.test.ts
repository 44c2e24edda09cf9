/** The install-time build never fails `npm ci`: a broken build is reported, and the loader says why. */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddonFrom } from '../../../workers/native/addon.ts';

const nativeDir = new URL('../../../native/', import.meta.url).pathname;

describe('native build script', () => {
  it('exits 0 when the compiler fails, and writes the reason where the loader reports it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'samflow-native-'));
    try {
      cpSync(nativeDir, dir, { recursive: true, filter: (src) => src !== `${nativeDir}build` });
      writeFileSync(join(dir, 'src', 'addon.cc'), 'this is not C++;\n');
      const result = spawnSync(process.execPath, [join(dir, 'build.mjs')], {
        encoding: 'utf8',
        env: { ...process.env, NODE_PATH: new URL('../../../node_modules', import.meta.url).pathname },
      });
      expect(result.status).toBe(0);
      expect(result.stderr).toMatch(/native kernels not built \(node-gyp rebuild exited with 1\); the tensor worker will use wasm/);
      const failure = readFileSync(join(dir, 'build', 'failure.txt'), 'utf8');
      expect(failure).toMatch(/addon\.cc.*error/);
      expect(existsSync(join(dir, 'build', 'Release', 'samflow_kernels.node'))).toBe(false);
      const load = loadAddonFrom(join(dir, 'build') + '/');
      expect(load).toEqual({ ok: false, reason: 'native kernels are not built: node-gyp rebuild exited with 1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says the addon was never built when there is neither a binary nor a failure note', () => {
    const dir = mkdtempSync(join(tmpdir(), 'samflow-native-'));
    try {
      expect(loadAddonFrom(dir + '/')).toEqual({ ok: false, reason: 'native kernels are not built: it was never built (run `npm run build:native`)' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
