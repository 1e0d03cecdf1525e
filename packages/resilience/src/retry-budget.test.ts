import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { manualClock } from './manual-clock.js';
import { type RetryBudget, retryBudget } from './retry-budget.js';

/** Withdraws until the budget refuses; returns how many withdrawals succeeded. */
function drain(budget: RetryBudget): number {
  let n = 0;
  while (budget.tryWithdraw()) n++;
  return n;
}

function deposit(budget: RetryBudget, times: number): void {
  for (let i = 0; i < times; i++) budget.deposit();
}

describe('retryBudget', () => {
  it('allows minRetriesPerSecond per second of window when nothing was deposited', () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 5, windowMs: 1_000, clock });
    assert.equal(budget.available(), 5);
    assert.equal(drain(budget), 5);
    assert.equal(budget.tryWithdraw(), false);
  });

  it('holds a floor of 100 retries over the default 10 s window', () => {
    const budget = retryBudget({ clock: manualClock() });
    assert.equal(drain(budget), 100);
  });

  it('allows ratio × deposits retries on top of the floor', () => {
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 0, clock: manualClock() });
    deposit(budget, 100);
    assert.equal(drain(budget), 20);
  });

  it('gives withdrawn retries back once they leave the window', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 2, windowMs: 1_000, clock });
    assert.equal(drain(budget), 2);
    await clock.advance(999);
    assert.equal(budget.tryWithdraw(), false);
    await clock.advance(1);
    assert.equal(drain(budget), 2);
  });

  it('forgets deposits older than the window', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    deposit(budget, 10);
    assert.equal(budget.available(), 5);
    await clock.advance(1_000);
    assert.equal(budget.available(), 0);
  });

  it('spreads deposits made between two clock reads evenly over that interval', async () => {
    const clock = manualClock(500);
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000, clock });
    budget.available(); // reads the clock at 0.5 s
    await clock.advance(19_000);
    deposit(budget, 100);
    // At 19.5 s the window's ten 1 s buckets cover 10–19.5 s: half the 0.5–19.5 s the deposits
    // are assumed to span, so 50 of them count, worth 0.2 × 50 retries.
    assert.equal(budget.available(), 10);
    assert.equal(budget.snapshot().deposits, 50);
  });

  it('reports its window in a snapshot', () => {
    const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 2_000, clock: manualClock() });
    deposit(budget, 30);
    assert.equal(budget.tryWithdraw(), true);
    assert.deepEqual(budget.snapshot(), {
      deposits: 30,
      withdrawals: 1,
      available: 4, // 0.1 × 30 + 1 × 2 − 1
      ratio: 0.1,
      minRetriesPerSecond: 1,
      windowMs: 2_000,
    });
  });

  it('never lets withdrawals in one window exceed ratio × deposits + floor', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 500 }),
        (ratio, minRetriesPerSecond, deposits) => {
          const budget = retryBudget({ ratio, minRetriesPerSecond, windowMs: 1_000, clock: manualClock() });
          deposit(budget, deposits);
          const withdrawn = drain(budget);
          return (
            withdrawn === Math.floor(ratio * deposits + minRetriesPerSecond + 1e-9) &&
            budget.available() === 0
          );
        },
      ),
    );
  });

  it('rejects invalid options with messages naming the field', () => {
    assert.throws(
      () => retryBudget({ ratio: -0.1 }),
      /retryBudget.ratio must be a finite number >= 0, got -0.1/,
    );
    assert.throws(
      () => retryBudget({ minRetriesPerSecond: Number.NaN }),
      /retryBudget.minRetriesPerSecond must be a finite number >= 0, got NaN/,
    );
    assert.throws(
      () => retryBudget({ windowMs: 0 }),
      /retryBudget.windowMs must be a finite number > 0, got 0/,
    );
  });
});
