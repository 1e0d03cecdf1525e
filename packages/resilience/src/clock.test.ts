import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadlineNow, systemClock } from './clock.js';
import { manualClock } from './manual-clock.js';

describe('systemClock', () => {
  it('keeps the process alive for a timer unless it is unref', () => {
    const kept = systemClock.setTimeout(() => {}, 1000) as NodeJS.Timeout;
    const background = systemClock.setTimeout(() => {}, 1000, true) as NodeJS.Timeout;
    assert.equal(kept.hasRef(), true);
    assert.equal(background.hasRef(), false);
    systemClock.clearTimeout(kept);
    systemClock.clearTimeout(background);
  });
});

describe('deadlineNow', () => {
  it('always reads a manual clock', async () => {
    const clock = manualClock(100);
    assert.equal(deadlineNow(clock), 100);
    await clock.advance(5);
    assert.equal(deadlineNow(clock), 105);
  });

  it('never runs ahead of the real clock and never reuses a time across event-loop turns', async () => {
    const before = performance.now();
    const cached = deadlineNow(systemClock);
    assert.ok(cached >= before && cached <= performance.now());
    await new Promise((r) => setImmediate(r));
    assert.ok(deadlineNow(systemClock) > cached);
  });
});
