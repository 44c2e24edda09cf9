/**
 * `npm run stress:native`: many short training runs on the native backend from several tensor
 * workers at once, while the main thread forks child processes all along (what set off the
 * OpenBLAS hang: native/src/blas.cc). A run that takes longer than --hang-s is a hang; the
 * watchdog is on too, and says where it stuck. Prints runs, items, kernel calls, forks and hangs.
 *
 *   npm run stress:native -- --runs 200 --workers 2 --fork-ms 5
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../src/graph/compile.ts';
import { run } from '../src/graph/run.ts';
import { SAM_PRESETS } from '../src/nodes/sam/config.ts';
import { convLoraBinary } from '../pipelines/conv-lora-binary.ts';
import { TensorWorker } from '../workers/host.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    workers: { type: 'string', default: '2' },
    'fork-ms': { type: 'string', default: '5' },
    'hang-s': { type: 'string', default: '60' },
  },
});
const runs = Number(values.runs);
const workers = Number(values.workers);
const hangMs = Number(values['hang-s']) * 1000;

const TINY = { ...SAM_PRESETS.vit_b, image_size: 32, patch_size: 4, encoder_embed_dim: 32, encoder_depth: 2, encoder_num_heads: 2,
  encoder_global_attn_indexes: [1], window_size: 4, prompt_embed_dim: 32, decoder_mlp_dim: 64, decoder_num_heads: 2, iou_head_hidden_dim: 32 };
const compiled = compile(convLoraBinary({ arch: TINY, train: 8, val: 2, batchSize: 2, epochs: 1 }));

let forks = 0;
const forker = setInterval(() => {
  spawn('true').on('exit', () => forks++);
}, Number(values['fork-ms']));

let done = 0;
let items = 0;
let kernels = 0;
let hangs = 0;
const failures: string[] = [];
const started = performance.now();

async function lane(): Promise<void> {
  while (done + hangs + failures.length < runs) {
    const worker = await TensorWorker.start({ backend: 'native', watchdogSeconds: hangMs / 2000 });
    const before = worker.beats;
    const timeout = new Promise<'hang'>((resolve) => setTimeout(() => resolve('hang'), hangMs).unref());
    const result = await Promise.race([lastValueFrom(run(compiled, { executor: async () => worker }).pipe(toArray())), timeout]);
    if (result === 'hang') {
      hangs++;
      process.stdout.write(`hang after ${done} runs\n`);
      continue; // the stuck worker is left behind
    }
    const end = result.at(-1);
    if (end?.type === 'finished') {
      done++;
      items += end.items;
      kernels += worker.beats - before;
    } else failures.push(end?.type === 'failed' ? end.error : 'no end event');
    if ((done + failures.length) % 50 === 0) process.stdout.write(`  ${done} runs, ${forks} forks, ${hangs} hangs\n`);
  }
}

await Promise.all(Array.from({ length: workers }, lane));
clearInterval(forker);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `stress:native: ${done} runs finished, ${hangs} hung, ${failures.length} failed in ${seconds.toFixed(0)} s with ${workers} workers at once; ` +
    `${items} items, ~${Math.round(kernels / 2)} kernel calls (marker beats / 2), ${forks} child processes forked meanwhile\n`,
);
for (const f of failures.slice(0, 5)) process.stdout.write(`  failed: ${f}\n`);
process.exit(hangs || failures.length ? 1 : 0);
