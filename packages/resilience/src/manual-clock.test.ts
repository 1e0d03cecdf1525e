import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from './manual-clock.js';

describe('manualClock', () => {
  it('fires timers in due order as time advances', async () => {
    const clock = manualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
    await clock.advance(25);
    assert.deepEqual(fired, ['a@1010', 'b@1020']);
    assert.equal(clock.now(), 1025);
    assert.equal(clock.pendingTimers, 1);
  });

  it('runs timers scheduled by promise reactions of earlier timers within the same advance', async () => {
    const clock = manualClock();
    const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    const seen: number[] = [];
    const chain = (async () => {
      await sleep(10);
      seen.push(clock.now());
      await sleep(10);
      seen.push(clock.now());
    })();
    await clock.advance(20);
    await chain;
    assert.deepEqual(seen, [10, 20]);
  });

  it('does not fire cleared timers', async () => {
    const clock = manualClock();
    let fired = false;
    const t = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(t);
    await clock.advance(10);
    assert.equal(fired, false);
    assert.equal(clock.pendingTimers, 0);
  });

  it('jumps to the next timer', async () => {
    const clock = manualClock();
    clock.setTimeout(() => {}, 500);
    await clock.next();
    assert.equal(clock.now(), 500);
  });
});
