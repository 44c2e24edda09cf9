#!/usr/bin/env node
/**
 * Builds the native kernels (native/build/Release/samflow_kernels.node) with node-gyp.
 *
 * Runs as the package's install script, so `npm ci` builds it. A failed build never fails the
 * install: the reason goes to native/build/failure.txt, and `samflow backends` reports it when the
 * worker falls back to wasm. Run `npm run build:native` to rebuild and see the compiler output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const failureFile = join(here, 'build', 'failure.txt');
const verbose = process.argv.includes('--verbose');

function nodeGypScript() {
  // npm tells its scripts where its bundled node-gyp is; a local install is the other option.
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  const npmDir = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  candidates.push(join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((path) => existsSync(path));
}

function fail(reason, log = '') {
  mkdirSync(dirname(failureFile), { recursive: true });
  writeFileSync(failureFile, `${reason}\n${log}`);
  console.warn(`samflow: native kernels not built (${reason}); the tensor worker will use wasm. Details: ${failureFile}`);
  process.exit(0);
}

if (process.env.SAMFLOW_SKIP_NATIVE === '1') fail('skipped: SAMFLOW_SKIP_NATIVE=1');
const gyp = nodeGypScript();
if (!gyp) fail('node-gyp was not found (it ships with npm; run the build through npm, or install node-gyp)');

// Node's own headers where the system has them (Debian's nodejs: /usr/include/node), so node-gyp
// does not try to download them.
const args = [gyp, 'rebuild', '--directory', here];
const prefix = join(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && !process.env.npm_config_nodedir) args.push(`--nodedir=${prefix}`);

rmSync(failureFile, { force: true });
const result = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe' });
if (result.status !== 0) {
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').slice(-40).join('\n');
  fail(`node-gyp rebuild exited with ${result.status ?? result.signal}`, log);
}
console.log('samflow: native kernels built (native/build/Release/samflow_kernels.node)');
