/**
 * Graph-runner benchmark: `npm run bench:graph` (node --import tsx bench/graph.ts).
 *
 * (a) framework overhead per item: source -> ~1 ms CPU map -> sink through run(), vs a plain
 *     for loop doing the same work on the same items (and the same at 0 ms of work);
 * (b) main-thread event-loop delay while the tensor worker runs matMuls, vs the same matMuls
 *     on the main thread;
 * (c) the fraction of wall time the worker segment is busy when the main stage is slower
 *     (2x) or faster (0.2x) than the worker.
 *
 * Prints figures, asserts nothing; exits 1 on a `failed` run event or a checksum mismatch.
 */
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs';
import type { RunEvent, StageSummary } from '../src/graph/events.ts';
import type { ExecutorFactory } from '../src/graph/executor.ts';
import { compile } from '../src/graph/compile.ts';
import { GraphBuilder, type Graph } from '../src/graph/graph.ts';
import { run } from '../src/graph/run.ts';
import { parseBackendChoice, selectBackend } from '../workers/backend.ts';
import { TensorWorker } from '../workers/host.ts';
import { BenchMatmul, BenchMatrices, BenchNumbers, BenchSink, BenchSpin, makeMatrix, matmulWork, spin } from './nodes.ts';

const MODULES = [new URL('./nodes.ts', import.meta.url).href];
const worker: ExecutorFactory = () => TensorWorker.start();

// Sizes: the whole bench stays well under a minute on a 2-core machine.
const A_ITEMS = 300; // items per run at ~1 ms of work
const A_ITEMS_ZERO = 3000; // items per run at 0 ms of work
const A_ROUNDS = 5; // measured rounds (alternating graph / loop), after one warm-up round
const B_ITEMS = 40; // worker items for the event-loop delay run
const B_MAIN_ITEMS = 15; // the same work on the main thread
const MATRIX = 512; // matrix side
const REPEATS = 2; // matMuls per item (~20 ms each with wasm on a 2.5 GHz Xeon)
const C_ITEMS = 24; // items per worker-busy run
const ELD_RESOLUTION_MS = 1;

type MetricEvent = Extract<RunEvent, { type: 'metric' }>;

interface RunResult {
  /** From subscribing to completion: compile, worker start and segment load included. */
  readonly totalMs: number;
  /** From the `started` event to the `finished` event: the items only. */
  readonly steadyMs: number;
  readonly items: number;
  readonly backend?: string;
  readonly stages: readonly StageSummary[];
  readonly metrics: readonly MetricEvent[];
}

/** Runs a graph to completion; any `failed` event ends the process with status 1. */
function runGraph(graph: Graph, executor?: ExecutorFactory, hooks: { started?(): void; finished?(): void } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const metrics: MetricEvent[] = [];
    const t0 = performance.now();
    let tStarted: number | undefined;
    let finished: { at: number; items: number } | undefined;
    let backend: string | undefined;
    let stages: readonly StageSummary[] = [];
    run(graph, executor ? { executor } : {}).subscribe({
      next: (event) => {
        switch (event.type) {
          case 'started':
            tStarted = performance.now();
            backend = event.backend;
            stages = event.stages;
            hooks.started?.();
            break;
          case 'metric':
            metrics.push(event);
            break;
          case 'finished':
            finished = { at: performance.now(), items: event.items };
            hooks.finished?.();
            break;
          case 'failed':
            console.error(`\nFAILED: graph '${graph.name}': ${JSON.stringify(event)}`);
            process.exit(1);
        }
      },
      error: (error: unknown) => {
        console.error(`\nFAILED: graph '${graph.name}' errored outside the event stream:`, error);
        process.exit(1);
      },
      complete: () => {
        if (!finished || tStarted === undefined) {
          console.error(`\nFAILED: graph '${graph.name}' completed without started/finished events`);
          process.exit(1);
        }
        resolve({
          totalMs: performance.now() - t0,
          steadyMs: finished.at - tStarted,
          items: finished.items,
          stages,
          metrics,
          ...(backend !== undefined ? { backend } : {}),
        });
      },
    });
  });
}

function metric(result: RunResult, name: string): number[] {
  return result.metrics.filter((m) => m.name === name).map((m) => m.value);
}

function checksumOf(result: RunResult): number {
  const [value] = metric(result, 'checksum');
  if (value === undefined) {
    console.error('FAILED: the sink reported no checksum');
    process.exit(1);
  }
  return value;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const f = (x: number, digits = 2) => x.toFixed(digits);
const layout = (stages: readonly StageSummary[]) => stages.map((s) => `[${s.placement}: ${s.nodes.join(', ')}]`).join(' -> ');

/**
 * Event-loop delay over one measured span. Two probes, because a run can keep the main thread
 * inside one libuv callback for seconds (worker replies drained back to back, each followed by
 * microtasks that run the main stages), and then no timer fires at all:
 * - monitorEventLoopDelay, enabled *before* the run is subscribed: enabling it (or reset()) inside
 *   such a stall loses the stall, because its first tick records nothing;
 * - the longest gap between the ticks of a 1 ms setTimeout chain started at `started`, which
 *   does see a stall it starts in.
 */
class LoopProbe {
  private readonly histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private longest = 0;

  constructor() {
    this.histogram.enable();
  }

  /** Starts the setTimeout chain (call at `started`). */
  watch(): void {
    this.last = performance.now();
    const tick = () => {
      const now = performance.now();
      this.longest = Math.max(this.longest, now - this.last);
      this.last = now;
      this.timer = setTimeout(tick, ELD_RESOLUTION_MS);
    };
    this.timer = setTimeout(tick, ELD_RESOLUTION_MS);
  }

  /** Stops the chain (call at `finished`); the gap still open then counts too. */
  unwatch(): void {
    clearTimeout(this.timer);
    this.longest = Math.max(this.longest, performance.now() - this.last);
  }

  stop(): { histogram: string; longestGapMs: number } {
    this.histogram.disable();
    return { histogram: delays(this.histogram), longestGapMs: this.longest };
  }
}

/** Hash iterations that take about 1 ms here (min of a few timed runs after warm-up). */
function calibrateSpin(): number {
  const probe = 2_000_000;
  for (let i = 0; i < 5; i++) spin(i, probe / 10);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    spin(i, probe);
    times.push(performance.now() - t);
  }
  return Math.round(probe / Math.min(...times));
}

// ---------------------------------------------------------------------------------------------

function header(): void {
  const cpus = os.cpus();
  console.log('samflow graph benchmark');
  console.log(`  node ${process.version} (${process.platform}/${process.arch}), tfjs ${tf.version.tfjs}`);
  console.log(`  cpu  ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} cores (availableParallelism ${os.availableParallelism()})`);
  console.log(`  date ${new Date().toISOString()}`);
}

async function overhead(iterations: number, items: number, label: string): Promise<void> {
  const graph = (() => {
    const g = new GraphBuilder({ name: `bench-overhead-${label}`, modules: MODULES });
    const src = g.add('src', BenchNumbers, { params: { count: items } });
    const work = g.add('work', BenchSpin, { params: { iterations }, inputs: { n: src.out.n } });
    g.add('sink', BenchSink, { inputs: { n: work.out.n } });
    return g.build();
  })();
  const loop = () => {
    let total = 0;
    for (let n = 0; n < items; n++) total += spin(n, iterations);
    return total;
  };

  const graphMs: number[] = [];
  const graphSteadyMs: number[] = [];
  const loopMs: number[] = [];
  const gaps: number[] = [];
  let stages: readonly StageSummary[] = [];
  for (let round = 0; round <= A_ROUNDS; round++) {
    const t = performance.now();
    const expected = loop();
    const l = performance.now() - t;
    const probe = new LoopProbe();
    const result = await runGraph(graph, undefined, { started: () => probe.watch(), finished: () => probe.unwatch() });
    const { longestGapMs } = probe.stop();
    if (checksumOf(result) !== expected || result.items !== items) {
      console.error(`FAILED: graph checksum ${checksumOf(result)} over ${result.items} items, loop ${expected} over ${items}`);
      process.exit(1);
    }
    stages = result.stages;
    if (round === 0) continue; // warm-up
    loopMs.push(l);
    graphMs.push(result.totalMs);
    graphSteadyMs.push(result.steadyMs);
    gaps.push(longestGapMs);
  }
  const g = median(graphMs) / items;
  const gs = median(graphSteadyMs) / items;
  const l = median(loopMs) / items;
  console.log(`  ${label}: ${items} items, median of ${A_ROUNDS} rounds; graph ${layout(stages)}`);
  if (iterations > 0) {
    console.log(`    plain for loop       ${f(l, 4)} ms/item`);
    console.log(`    graph via run()      ${f(g, 4)} ms/item   (started->finished only: ${f(gs, 4)} ms/item)`);
    console.log(`    overhead             ${f((g - l) * 1000, 1)} µs/item = ${f(((g - l) / l) * 100, 2)} %   (goal ≤ 5 %)`);
    console.log(`    longest timer gap    ${f(median(gaps), 1)} ms during a ${f(median(graphSteadyMs), 0)} ms run (median over rounds; the runner yields to the event loop every 4 ms of work)`);
  } else {
    console.log(`    plain for loop       ${f(l * 1000, 3)} µs/item`);
    console.log(`    graph via run()      ${f(g * 1000, 2)} µs/item   (started->finished only: ${f(gs * 1000, 2)} µs/item)`);
    console.log(`    pure overhead        ${f((g - l) * 1000, 2)} µs/item (3 stages: source, map, sink map)`);
  }
}

function delays(h: IntervalHistogram): string {
  // The histogram records each timer interval in full; subtract the interval to get the delay.
  const ms = (ns: number) => f(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS), 2);
  return `p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms  (${h.count} samples)`;
}

async function eventLoopDelay(): Promise<{ workerMs: number; backend: string }> {
  const g = new GraphBuilder({ name: 'bench-worker-delay', modules: MODULES });
  const src = g.add('src', BenchMatrices, { params: { count: B_ITEMS, size: MATRIX } });
  const mm = g.add('matmul', BenchMatmul, { params: { size: MATRIX, repeats: REPEATS }, inputs: { x: src.out.x } });
  g.add('sink', BenchSink, { inputs: { checksum: mm.out.checksum } });
  const graph = g.build();

  const probe = new LoopProbe();
  const result = await runGraph(graph, worker, { started: () => probe.watch(), finished: () => probe.unwatch() });
  const loop = probe.stop();
  const busy = metric(result, 'busy_ms');
  const workerMs = mean(busy.slice(1));
  const backend = result.backend ?? 'unknown';
  console.log(`  worker: ${B_ITEMS} items of ${REPEATS}x matMul ${MATRIX}x${MATRIX} float32 on backend '${backend}'; graph ${layout(result.stages)}`);
  console.log(`    worker forward       ${f(workerMs, 1)} ms/item (mean busy_ms after the first item; first ${f(busy[0] ?? NaN, 1)} ms)`);
  console.log(`    throughput           ${f(result.items / (result.steadyMs / 1000), 1)} items/s; worker start + load ${f(result.totalMs - result.steadyMs, 0)} ms`);
  console.log(`    loop delay           ${loop.histogram}   (goal p99 < 20 ms; whole run incl. worker start + load)`);
  console.log(`    longest timer gap    ${f(loop.longestGapMs, 2)} ms (1 ms setTimeout chain, started -> finished)`);

  // Contrast: the same tensor work on the main thread, yielding to the loop between items.
  await selectBackend(parseBackendChoice(backend, 'backend'));
  const a = tf.tidy(() => tf.tensor2d(makeMatrix(MATRIX, 2).data as Float32Array, [MATRIX, MATRIX]).div(Math.sqrt(MATRIX)) as tf.Tensor2D);
  const template = makeMatrix(MATRIX, 1);
  const itemMs: number[] = [];
  const oneItem = () => {
    const t = performance.now();
    tf.tidy(() => matmulWork(tf.tensor2d(template.data.slice() as Float32Array, [MATRIX, MATRIX]), a, REPEATS).dataSync());
    return performance.now() - t;
  };
  oneItem(); // warm-up (kernel setup), not measured
  const probe2 = new LoopProbe();
  probe2.watch();
  for (let i = 0; i < B_MAIN_ITEMS; i++) {
    itemMs.push(oneItem());
    await nextTurn();
  }
  probe2.unwatch();
  const main = probe2.stop();
  a.dispose();
  console.log(`  contrast: the same work on the main thread (backend '${tf.getBackend()}', ${B_MAIN_ITEMS} items, yielding between items)`);
  console.log(`    main-thread matMul   ${f(mean(itemMs), 1)} ms/item`);
  console.log(`    loop delay           ${main.histogram}`);
  console.log(`    longest timer gap    ${f(main.longestGapMs, 2)} ms`);
  return { workerMs, backend };
}

/** source -> main 'prep' (busy loop or sleep) -> worker matmul -> sink. */
function busyGraph(prep: { iterations?: number; sleepMs?: number; report?: boolean }, items: number): Graph {
  const g = new GraphBuilder({ name: 'bench-worker-busy', modules: MODULES });
  const src = g.add('src', BenchMatrices, { params: { count: items, size: MATRIX } });
  const work = g.add('prep', BenchSpin, { params: prep, inputs: { n: src.out.n } });
  const mm = g.add('matmul', BenchMatmul, { params: { size: MATRIX, repeats: REPEATS }, inputs: { x: src.out.x } });
  g.add('sink', BenchSink, { inputs: { n: work.out.n, checksum: mm.out.checksum } });
  return g.build();
}

async function workerBusy(workerMs: number, mainRatio: number, mode: 'busy' | 'sleep', itersPerMs: number): Promise<void> {
  const mainMs = workerMs * mainRatio;
  const params = mode === 'busy' ? { iterations: Math.round(mainMs * itersPerMs), report: true } : { sleepMs: mainMs, report: true };
  const probe = new LoopProbe();
  const result = await runGraph(busyGraph(params, C_ITEMS), worker, { started: () => probe.watch(), finished: () => probe.unwatch() });
  const loop = probe.stop();
  const busy = metric(result, 'busy_ms');
  if (busy.length !== C_ITEMS) {
    console.error(`FAILED: expected ${C_ITEMS} busy_ms metrics, got ${busy.length}`);
    process.exit(1);
  }
  const main = metric(result, 'main_ms');
  const fraction = sum(busy) / result.steadyMs;
  // Ideal: the slower stage sets the pace, so the worker is busy worker/max(worker, main) of the time
  // (from the measured means: on 2 cores a busy main thread and the worker slow each other down).
  const ideal = mean(busy) / Math.max(mean(busy), mean(main));
  const how = mode === 'busy' ? 'busy loop' : 'sleep';
  console.log(
    `    main ${f(mainRatio, 1)}x, ${how} (target ${f(mainMs, 1)} ms)`.padEnd(44) +
      `main ${f(mean(main), 1)} ms/item, worker ${f(mean(busy), 1)} ms/item, wall ${f(result.steadyMs / result.items, 1)} ms/item ` +
      `-> worker busy ${f(fraction * 100, 1)} %  (ideal ≈ ${f(ideal * 100, 0)} %)`,
  );
  console.log(`${''.padEnd(44)}loop delay ${loop.histogram}; longest timer gap ${f(loop.longestGapMs, 1)} ms`);
}

// ---------------------------------------------------------------------------------------------

const benchStart = performance.now();
header();

console.log('\n(a) framework overhead per item (main thread only, no worker)');
const itersPerMs = calibrateSpin();
console.log(`  calibration: ${itersPerMs} hash iterations ≈ 1 ms`);
await overhead(itersPerMs, A_ITEMS, '~1 ms of work');
await overhead(0, A_ITEMS_ZERO, '0 ms of work');

console.log(`\n(b) main-thread event-loop delay (monitorEventLoopDelay, ${ELD_RESOLUTION_MS} ms timer; delay = recorded interval - ${ELD_RESOLUTION_MS} ms)`);
const { workerMs } = await eventLoopDelay();

console.log('\n(c) worker-busy fraction = sum(worker forward busy_ms) / wall time (started -> finished)');
console.log('    expected: main slower (2x) -> ≈ worker/main ≈ 50 % (main-bound); main faster (0.2x) -> ≈ 100 % (worker-bound)');
{
  const compiled = compile(busyGraph({ sleepMs: 1 }, 1));
  const stages = compiled.stages.map((s) => `[${s.type === 'worker' ? 'worker' : 'main'}: ${(s.type === 'main' ? [s.node] : s.nodes).map((n) => n.json.name).join(', ')}]`);
  console.log(`    graph ${stages.join(' -> ')} (window ${compiled.window} items)`);
}
for (const mode of ['busy', 'sleep'] as const) {
  await workerBusy(workerMs, 2, mode, itersPerMs);
  await workerBusy(workerMs, 0.2, mode, itersPerMs);
}

console.log(`\ntotal bench time ${f((performance.now() - benchStart) / 1000, 1)} s`);

