import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsoleReporter, cliProgressBars, type ConsoleReporterOptions, type GroupProgress, type ProgressBars, type ReportedEvent } from '../../src/cli/console-reporter.ts';

/** A reporter on a scripted clock; `at(ms)` moves the clock before the next event. */
function scripted(options: { tty?: boolean; bars?: ConsoleReporterOptions['bars']; write?: (line: string) => void } = {}) {
  const lines: string[] = [];
  let clock = 0;
  const reporter = new ConsoleReporter({ write: options.write ?? ((l) => lines.push(l)), tty: options.tty ?? false, now: () => clock, ...(options.bars ? { bars: options.bars } : {}) });
  return {
    lines,
    at: (ms: number) => (clock = ms),
    send: (...events: ReportedEvent[]) => events.forEach((e) => reporter.handle(e)),
  };
}

const started: ReportedEvent = { type: 'started', graph: 'toy', stages: [{ id: 's0', placement: 'worker', nodes: ['model', 'adam'] }], backend: 'cpu', window: 4 };

/**
 * Two epochs of 10 train items (1 item/s) and 4 val items (2 items/s), 28 items in all. The k-th
 * train item of a group has loss k/100; the lr falls by 1/40 per step from 1e-3; val loss is 0.2.
 */
function twoEpochs(r: ReturnType<typeof scripted>) {
  let t = 0;
  let items = 0;
  r.send(started);
  for (let epoch = 0; epoch < 2; epoch++) {
    for (let k = 1; k <= 10; k++) {
      const step = epoch * 10 + k - 1;
      r.send(
        { type: 'metric', node: 'adam', name: 'loss', value: k / 100, split: 'train', epoch, step },
        { type: 'metric', node: 'adam', name: 'lr', value: 1e-3 * (1 - step / 40), split: 'train', epoch, step },
      );
      if (epoch === 0 && k === 3) r.send({ type: 'log', node: 'model', message: 'loaded 12 tensors' });
      r.at((t += 1000));
      r.send({ type: 'progress', items: ++items, total: 28, split: 'train', epoch });
    }
    if (epoch === 1) r.send({ type: 'checkpoint', path: 'runs/x/best.safetensors', epoch, step: 19, tags: ['best', 'last'] });
    for (let k = 1; k <= 4; k++) {
      r.send({ type: 'metric', node: 'adam', name: 'loss', value: 0.2, split: 'val', epoch });
      if (k === 4) r.send({ type: 'metric', node: 'iou', name: 'iou', value: 0.75 + epoch / 10, split: 'val', epoch });
      if (epoch === 0 && k === 2) r.send({ type: 'warning', node: 'iou', message: 'empty mask' });
      r.at((t += 500));
      r.send({ type: 'progress', items: ++items, total: 28, split: 'val', epoch, tensors: 40 });
    }
  }
  r.send({ type: 'something-new', detail: 1 } as unknown as ReportedEvent);
  r.send({ type: 'finished', items, seconds: t / 1000, stopped: 'val iou did not improve for 1 epoch' });
}

describe('ConsoleReporter off a terminal', () => {
  it('prints a line per tenth of a group, per-epoch summaries, checkpoints and why the run stopped', () => {
    const r = scripted();
    twoEpochs(r);
    expect(r.lines).toEqual([
      "samflow: running 'toy' on cpu",
      '  stages: [worker: model, adam]',
      '  at most 4 items in flight',
      // Epoch 1 has no group sizes yet: steps are tenths of the run, the ETA is the run's.
      '  [model] loaded 12 tensors',
      '  epoch 1 train 3 items, run 3/28 | loss 0.0200 | lr 9.50e-4 | 1.0 img/s | run ETA 25s',
      '  epoch 1 train 6 items, run 6/28 | loss 0.0350 | lr 8.75e-4 | 1.0 img/s | run ETA 22s',
      '  epoch 1 train 9 items, run 9/28 | loss 0.0500 | lr 8.00e-4 | 1.0 img/s | run ETA 19s',
      '  warning [iou]: empty mask',
      '  epoch 1 val 2 items, run 12/28 | loss 0.2000 | lr 7.75e-4 | 2.0 img/s | run ETA 15s | 40 tensors',
      '  epoch 1 val 4 items, run 14/28 | loss 0.2000 | lr 7.75e-4 | 2.0 img/s | run ETA 12s | 40 tensors',
      'epoch 1: train loss 0.0550 | val loss 0.2000, iou 0.7500',
      // Epoch 2 knows each split's size from epoch 1.
      '  epoch 2 train 2/10 items | loss 0.0150 | lr 7.25e-4 | 1.0 img/s | ETA 8s',
      '  epoch 2 train 3/10 items | loss 0.0200 | lr 7.00e-4 | 1.0 img/s | ETA 7s',
      '  epoch 2 train 4/10 items | loss 0.0250 | lr 6.75e-4 | 1.0 img/s | ETA 6s',
      '  epoch 2 train 5/10 items | loss 0.0300 | lr 6.50e-4 | 1.0 img/s | ETA 5s',
      '  epoch 2 train 6/10 items | loss 0.0350 | lr 6.25e-4 | 1.0 img/s | ETA 4s',
      '  epoch 2 train 7/10 items | loss 0.0400 | lr 6.00e-4 | 1.0 img/s | ETA 3s',
      '  epoch 2 train 8/10 items | loss 0.0450 | lr 5.75e-4 | 1.0 img/s | ETA 2s',
      '  epoch 2 train 9/10 items | loss 0.0500 | lr 5.50e-4 | 1.0 img/s | ETA 1s',
      '  epoch 2 train 10/10 items | loss 0.0550 | lr 5.25e-4 | 1.0 img/s | ETA 0s',
      '  checkpoint: runs/x/best.safetensors (epoch 2, step 19, best, last)',
      '  epoch 2 val 2/4 items | loss 0.2000 | lr 5.25e-4 | 2.0 img/s | ETA 1s | 40 tensors',
      '  epoch 2 val 3/4 items | loss 0.2000 | lr 5.25e-4 | 2.0 img/s | ETA 1s | 40 tensors',
      '  epoch 2 val 4/4 items | loss 0.2000 | lr 5.25e-4 | 2.0 img/s | ETA 0s | 40 tensors',
      'epoch 2: train loss 0.0550 | val loss 0.2000, iou 0.8500',
      'final (val, epoch 2): loss 0.2000, iou 0.8500',
      'stopped early: val iou did not improve for 1 epoch',
      'done: 28 items in 24.0 s (1.2 items/s)',
    ]);
  });

  it('without any total prints every 30 s, and uses a groupTotal the event carries', () => {
    const r = scripted();
    r.send(started);
    for (let i = 1; i <= 7; i++) {
      r.at(i * 12_000);
      r.send({ type: 'progress', items: i, split: 'train', epoch: 0 });
    }
    r.at(100_000);
    r.send({ type: 'progress', items: 8, split: 'val', epoch: 0, groupTotal: 5 });
    r.at(101_000);
    r.send({ type: 'progress', items: 9, split: 'val', epoch: 0, groupTotal: 5 });
    expect(r.lines.slice(3)).toEqual([
      '  epoch 1 train 3 items | 0.1 img/s',
      '  epoch 1 train 6 items | 0.1 img/s',
      // 1 of 5 sets the baseline tenth; 2 of 5 is two tenths on. The val group started at 84 s.
      '  epoch 1 val 2/5 items | 0.1 img/s | ETA 26s',
    ]);
  });
});

describe('ConsoleReporter on a terminal', () => {
  afterEach(() => vi.useRealTimers());

  it('drives one bar per group with the loss mean, lr and images/s; log lines go above it', () => {
    const calls: string[] = [];
    const payloads: GroupProgress[] = [];
    const fake = (): ProgressBars => ({
      create: (total, value, payload) => {
        calls.push(`create ${payload.epoch} ${payload.split} ${value}/${total}`);
        payloads.push(payload);
        return {
          setTotal: (t) => calls.push(`total ${t}`),
          update: (v, p) => (payloads.push(p), calls.push(`update ${v}`)),
        };
      },
      log: (text) => calls.push(`log ${text}`),
      update: () => calls.push('redraw'),
      stop: () => calls.push('stop'),
    });
    const r = scripted({ tty: true, bars: fake, write: (l) => calls.push(`write ${l}`) });
    twoEpochs(r);
    // Bars are counted in the run's items in epoch 1, in the group's from epoch 2.
    expect(calls.filter((c) => /^(create|stop|write epoch|log)/.test(c))).toEqual([
      'create 1 train 1/28',
      'log   [model] loaded 12 tensors\n',
      'stop',
      'create 1 val 11/28',
      'log   warning [iou]: empty mask\n',
      'stop',
      'write epoch 1: train loss 0.0550 | val loss 0.2000, iou 0.7500',
      'create 2 train 1/10',
      'log   checkpoint: runs/x/best.safetensors (epoch 2, step 19, best, last)\n',
      'stop',
      'create 2 val 1/4',
      'stop',
      'write epoch 2: train loss 0.0550 | val loss 0.2000, iou 0.8500',
    ]);
    const lastTrain = payloads.filter((p) => p.split === 'train').at(-1)!;
    expect(lastTrain).toMatchObject({ epoch: 2, done: 10, groupTotal: 10, runItems: 24, runTotal: 28, rate: 1 });
    expect(lastTrain.loss).toBeCloseTo(0.055);
    expect(lastTrain.lr).toBeCloseTo(5.25e-4);
    expect(calls.some((c) => c.startsWith('write   epoch'))).toBe(false);
  });

  it('renders through cli-progress: bar, loss mean, lr, images/s and ETA, with log lines above it', () => {
    vi.useFakeTimers({ now: 0 });
    const term = terminal();
    const r = scripted({ tty: true, bars: cliProgressBars(term.stream), write: (l) => term.stream.write(`${l}\n`) });
    r.send(started);
    for (let k = 1; k <= 4; k++) {
      r.send({ type: 'metric', node: 'adam', name: 'loss', value: 0.5, split: 'train', epoch: 0 });
      r.send({ type: 'metric', node: 'adam', name: 'lr', value: 1e-3, split: 'train', epoch: 0 });
      if (k === 3) r.send({ type: 'log', node: 'model', message: 'loaded 12 tensors' });
      vi.advanceTimersByTime(1000);
      r.at(k * 1000);
      r.send({ type: 'progress', items: k, total: 8, split: 'train', epoch: 0 });
    }
    vi.advanceTimersByTime(1000);
    expect(term.screen().slice(3)).toEqual([
      '  [model] loaded 12 tensors',
      '  epoch 1 train [============------------] 4 items, run 4/8 | loss 0.5000 | lr 1.00e-3 | 1.0 img/s | run ETA 4s',
    ]);
    r.send({ type: 'finished', items: 4, seconds: 5 });
    // The bar is gone and its redraw timer with it (else the process would not exit).
    expect(term.screen().slice(3)).toEqual([
      '  [model] loaded 12 tensors',
      'epoch 1: train loss 0.5000',
      'final (train, epoch 1): loss 0.5000',
      'done: 4 items in 5.0 s (0.8 items/s)',
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** A TTY stream and the screen it leaves: plays the cursor moves and clears readline writes. */
function terminal() {
  const rows: string[] = [''];
  let row = 0;
  let col = 0;
  const stream = Object.assign(Object.create(null) as NodeJS.WritableStream, {
    isTTY: true,
    columns: 200,
    write: (chunk: string) => {
      for (const [token, n, op] of chunk.matchAll(/\x1b\[(\d*)([A-Za-z])|\n|\r|[^\x1b\n\r]/g)) {
        const count = Number(n || 0);
        if (token === '\n') [row, col] = [row + 1, 0];
        else if (token === '\r') col = 0;
        else if (op === 'A') row -= count || 1;
        else if (op === 'B') row += count || 1;
        else if (op === 'G') col = Math.max(0, count - 1);
        else if (op === 'K') rows[row] = count === 2 ? '' : count === 1 ? ' '.repeat(col) + (rows[row] ?? '').slice(col) : (rows[row] ?? '').slice(0, col);
        else if (op === 'J') rows.splice(row, rows.length, (rows[row] ?? '').slice(0, col));
        else if (op) throw new Error(`unexpected control sequence ${JSON.stringify(token)}`);
        else {
          const line = (rows[row] ?? '').padEnd(col);
          rows[row] = line.slice(0, col) + token + line.slice(col + 1);
          col++;
        }
      }
      return true;
    },
  });
  const screen = () => {
    const lines = Array.from({ length: Math.max(rows.length, row + 1) }, (_, i) => (rows[i] ?? '').trimEnd());
    while (lines.length && lines.at(-1) === '') lines.pop();
    return lines;
  };
  return { stream, screen };
}

describe('ConsoleReporter on a resumed run', () => {
  it('counts items, rates and the run ETA from where the run resumed', () => {
    const r = scripted();
    r.send({ ...started, resumedAt: { items: 20, groupItems: 4 } } as ReportedEvent);
    // 20 of 40 items were done before; now 1 item/s: 20 left at 1 item/s is 20 s, not 20 x (40-20)/40 s.
    for (let k = 1; k <= 4; k++) {
      r.at(k * 1000);
      r.send({ type: 'progress', items: 20 + k, total: 40, split: 'train', epoch: 1 });
    }
    expect(r.lines.at(-1)).toBe('  epoch 2 train 4 items, run 24/40 | 1.0 img/s | run ETA 16s');
    r.send({ type: 'finished', items: 40, seconds: 20 });
    expect(r.lines.at(-1)).toBe('done: 40 items (resumed at item 20: 20 items this time) in 20.0 s (1.0 items/s)');
  });
});
