/**
 * samflow as a dependency of another project: `npm install <repo>` in a scratch project, then
 * `import { train } from 'samflow'` under `node --import samflow/register` (samflow ships
 * TypeScript sources and registers their loader), with the same events the CLI prints.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../fixtures/datasets.ts';

const REPO = resolve(import.meta.dirname, '../..');

describe('samflow as a package', () => {
  it('trains from a project that depends on it, through the package exports', () => {
    const project = tempDir('samflow-consumer-');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', REPO], { cwd: project, stdio: 'pipe' });
    writeFileSync(
      join(project, 'app.mjs'),
      `import { train, TrainControl } from 'samflow';
const run = await train({ pipeline: 'toy-segmentation', options: { size: 16, train: 8, val: 4, epochs: 1 }, out: 'run' });
const types = [];
await run.events.forEach((e) => types.push(e.type));
console.log(JSON.stringify({ dir: run.dir, first: types[0], last: types.at(-1), monitor: TrainControl.parse({}).monitor }));
`,
    );
    const out = execFileSync(process.execPath, ['--import', 'samflow/register', 'app.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ dir: join(project, 'run'), first: 'log', last: 'finished', monitor: 'loss' });
    expect(readFileSync(join(project, 'run', 'report.html'), 'utf8')).toContain('finished: 12 items');
  });
});
