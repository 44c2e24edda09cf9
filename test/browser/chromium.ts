/**
 * Headless Chromium for the browser tests: Debian's `chromium` (or $SAMFLOW_CHROMIUM), driven
 * with puppeteer-core, which downloads no browser. Where none is installed the tests are skipped
 * with a message saying so, except in CI (.ci/run installs chromium and sets
 * SAMFLOW_CI_CHROMIUM=1), where its absence is a failure.
 */
import { spawnSync } from 'node:child_process';
import puppeteer, { type Browser } from 'puppeteer-core';
import { describe, it } from 'vitest';

const CANDIDATES = [process.env.SAMFLOW_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter((c): c is string => !!c);

/** The first candidate that runs `--version`, as an absolute path (puppeteer wants one). */
function findChromium(): string | undefined {
  for (const name of CANDIDATES) {
    const path = name.startsWith('/') ? name : spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
    if (path && spawnSync(path, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0) return path;
  }
  return undefined;
}

export const chromiumPath = findChromium();
const required = process.env.SAMFLOW_CI_CHROMIUM === '1';

/** `describe` when Chromium is installed; otherwise a skipped suite (or, in CI, a failing test) that says why. */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumPath) {
    describe(name, body);
    return;
  }
  if (required) {
    describe(name, () => {
      it('needs Chromium (SAMFLOW_CI_CHROMIUM=1)', () => {
        throw new Error(`no Chromium found (tried ${CANDIDATES.join(', ')}), but SAMFLOW_CI_CHROMIUM=1 says .ci/run installed it (apt-get install chromium)`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: no Chromium found, tried ${CANDIDATES.join(', ')}; apt-get install chromium, or set SAMFLOW_CHROMIUM to a Chrome binary)`, body);
}

export async function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath!,
    headless: true,
    // Root in CI and containers: no user namespaces for the sandbox; no GPU; /dev/shm may be small.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
}
