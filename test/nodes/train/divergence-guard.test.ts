import { describe, expect, it } from 'vitest';
import { DivergenceGuard } from '../../../src/nodes/train/divergence-guard.ts';

describe('divergence guard', () => {
  it('stops after `items` losses in a row above factor × the running median, with the numbers', () => {
    const guard = new DivergenceGuard(10, 3);
    for (let i = 0; i < 10; i++) guard.check(1 + i / 10, `item ${i}`);
    guard.check(20, 'item 10');
    guard.check(20, 'item 11');
    // The window now holds 1.0 .. 1.9, 20, 20: its median is (1.5 + 1.6) / 2.
    expect(() => guard.check(20, 'item 12')).toThrow(
      'training diverged: the loss has been above 10 × its running median (1.55) for 3 items in a row, now 20.0 on item 12; lower the lr',
    );
  });

  it('forgets a spike that falls back, and does not judge before it has a baseline', () => {
    const guard = new DivergenceGuard(10, 3);
    for (let i = 0; i < 9; i++) guard.check(i === 0 ? 1e9 : 1, `item ${i}`); // warm-up: no verdict yet
    for (let i = 0; i < 50; i++) {
      guard.check(100, `spike ${i}`);
      guard.check(100, `spike ${i}'`);
      guard.check(1, `calm ${i}`); // two above, then below: the count starts again
    }
  });
});
