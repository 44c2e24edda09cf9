/**
 * The README's "Writing a pipeline" module, verbatim, in a project of its own that depends on
 * samflow: `samflow run`, `train` and `graph` take it by path. And the errors a module gets
 * when it exports no pipeline or is read as CommonJS.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../fixtures/datasets.ts';
import { captureCli, samflow } from './capture.ts';

const REPO = resolve(import.meta.dirname, '../..');

function readmeModule(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a pipeline'));
  return /```ts\n([\s\S]*?)```/.exec(section)![1]!;
}

describe('a pipeline module of the user’s own', () => {
  const output = captureCli();
  const project = tempDir('samflow-user-');
  const file = join(project, 'my-pipeline.ts');

  beforeAll(() => {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'mine', private: true, type: 'module' }));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(REPO, join(project, 'node_modules', 'samflow'));
    writeFileSync(file, readmeModule());
  });

  it('runs the README example from the command line, and exports its graph', async () => {
    expect(await samflow('run', file, '--set', 'size=16', '--set', 'epochs=1', '--out', join(project, 'run'))).toBe(0);
    expect(output.out).toMatch(/running 'mine' on /);
    expect(output.out).toMatch(/keep the 3 best by val iou \(max\)/);
    expect(JSON.parse(readFileSync(join(project, 'run', 'run.json'), 'utf8'))).toMatchObject({ pipeline: file, options: { size: 16, epochs: 1 } });
    expect(await samflow('graph', file, '--format', 'json')).toBe(0);
    expect((JSON.parse(output.out.slice(output.out.indexOf('{'))) as { nodes: { name: string }[] }).nodes.map((n) => n.name)).toEqual(['data', 'batch', 'model', 'loss', 'optimizer', 'iou']);
    expect(await samflow('train', file, '--epochs', '1', '--batch', '4', '--out', join(project, 'run2'))).toBe(1);
    expect(output.err).toBe("samflow: --batch: pipeline 'mine' has no option 'batchSize' (its options: size, epochs)\n");
  });

  it('names the file and the export it expected', async () => {
    const none = join(project, 'none.ts');
    writeFileSync(none, 'export const graph = 1;\n');
    expect(await samflow('run', none)).toBe(1);
    expect(output.err).toBe(`samflow: ${none}: exports no pipeline; expected \`export default definePipeline({ name, description, options, build })\` or \`export const pipeline = …\` (it exports: graph)\n`);
    const wrong = join(project, 'wrong.ts');
    writeFileSync(wrong, 'export default { name: "x" };\n');
    output.err = '';
    expect(await samflow('run', wrong)).toBe(1);
    expect(output.err).toBe(`samflow: ${wrong}: its default export is not a pipeline: a pipeline needs 'build' (options => Graph), 'options' (a zod object schema)\n`);
  });

  it('says how to make a CommonJS-by-default .ts file an ES module', async () => {
    const plain = tempDir('samflow-cjs-');
    const module = join(plain, 'p.ts');
    writeFileSync(module, readmeModule());
    expect(await samflow('run', module)).toBe(1);
    expect(output.err).toMatch(new RegExp(`^samflow: ${module}: Node reads this file as CommonJS .*: rename it to \\.mts, or add "type": "module" to `));
  });
});
