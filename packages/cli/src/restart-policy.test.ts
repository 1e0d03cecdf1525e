import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restartPolicy } from './restart-policy.js';

const crashAtStart = { uptimeMs: 50, becameReady: false };
const crashAfterReady = { uptimeMs: 1_000, becameReady: true };

describe('restartPolicy', () => {
  it('doubles the delay with each consecutive crash, up to maxDelayMs', () => {
    const policy = restartPolicy({ initialDelayMs: 100, maxDelayMs: 500, maxStartFailures: 100 });
    const delays = Array.from({ length: 5 }, () => {
      const d = policy.next(crashAfterReady);
      return d.kind === 'restart' ? d.delayMs : -1;
    });
    assert.deepEqual(delays, [100, 200, 400, 500, 500]);
  });

  it('starts the backoff over after a process stayed up for resetAfterMs', () => {
    const policy = restartPolicy({ initialDelayMs: 100, resetAfterMs: 10_000 });
    policy.next(crashAfterReady);
    policy.next(crashAfterReady);
    assert.deepEqual(policy.next({ uptimeMs: 10_000, becameReady: true }), {
      kind: 'restart',
      delayMs: 100,
      crashes: 1,
    });
  });

  it('gives up after maxStartFailures crashes in a row before becoming ready', () => {
    const policy = restartPolicy({ maxStartFailures: 3 });
    assert.equal(policy.next(crashAtStart).kind, 'restart');
    assert.equal(policy.next(crashAtStart).kind, 'restart');
    assert.deepEqual(policy.next(crashAtStart), { kind: 'give-up', startFailures: 3 });
  });

  it('keeps restarting a process that became ready before each crash', () => {
    const policy = restartPolicy({ maxStartFailures: 2 });
    for (let i = 0; i < 10; i++) assert.equal(policy.next(crashAfterReady).kind, 'restart');
    assert.equal(policy.next(crashAtStart).kind, 'restart', 'one failure at start after a good run');
  });

  it('forgets past crashes on reset (the operator started it again)', () => {
    const policy = restartPolicy({ initialDelayMs: 100, maxStartFailures: 2 });
    policy.next(crashAtStart);
    policy.reset();
    assert.deepEqual(policy.next(crashAtStart), { kind: 'restart', delayMs: 100, crashes: 1 });
  });
});
