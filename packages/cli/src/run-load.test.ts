import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { runLoad } from './run-load.js';

describe('runLoad', () => {
  it('runs every iteration, at most `concurrency` at once, and counts outcomes', async () => {
    let active = 0;
    let peak = 0;
    const seen: number[] = [];
    const summary = await runLoad(
      async ({ iteration, report }) => {
        active++;
        peak = Math.max(peak, active);
        seen.push(iteration);
        await new Promise((resolve) => setImmediate(resolve));
        active--;
        if (iteration % 4 === 0) report('cancelled');
        return iteration % 4 === 0 ? undefined : 'confirmed';
      },
      { iterations: 20, concurrency: 3, gatewayUrl: 'http://127.0.0.1:1/' },
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(summary.succeeded, 20);
    assert.equal(summary.failed, 0);
    assert.equal(summary.cancelled, false);
    assert.deepEqual(summary.outcomes, { cancelled: 5, confirmed: 15 });
  });

  it('measures latency percentiles and throughput with the given clock', async () => {
    const clock = manualClock();
    const durations = [10, 20, 30, 40, 100];
    const pending = runLoad(
      async ({ iteration }) => {
        await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), durations[iteration]!));
      },
      { iterations: 5, concurrency: 5, gatewayUrl: 'http://x', clock },
    );
    await clock.advance(100);
    const summary = await pending;
    assert.deepEqual(summary.latency, { p50Ms: 30, p99Ms: 100, maxMs: 100, meanMs: 40 });
    assert.equal(summary.elapsedMs, 100);
    assert.equal(summary.throughputPerSecond, 50);
  });

  it('counts failures by message and keeps going', async () => {
    const summary = await runLoad(
      async ({ iteration }) => {
        if (iteration % 2 === 1) throw new Error('503 from gateway');
      },
      { iterations: 6, concurrency: 2, gatewayUrl: 'http://x' },
    );
    assert.equal(summary.succeeded, 3);
    assert.equal(summary.failed, 3);
    assert.deepEqual(summary.errors, { '503 from gateway': 3 });
  });

  it('gives the same random numbers for the same seed, and trims the gateway URL', async () => {
    const draw = async (seed: number) => {
      const values: number[] = [];
      let url = '';
      await runLoad(
        async ({ random, gatewayUrl }) => {
          values.push(random());
          url = gatewayUrl;
        },
        { iterations: 3, concurrency: 1, gatewayUrl: 'http://127.0.0.1:7100///', seed },
      );
      return { values, url };
    };
    const a = await draw(42);
    assert.deepEqual((await draw(42)).values, a.values);
    assert.notDeepEqual((await draw(43)).values, a.values);
    assert.equal(a.url, 'http://127.0.0.1:7100');
  });

  it('shares a once() setup between iterations', async () => {
    let logins = 0;
    await runLoad(
      async ({ once }) => {
        const token = await once('token', async () => {
          logins++;
          return 'secret';
        });
        assert.equal(token, 'secret');
      },
      { iterations: 10, concurrency: 5, gatewayUrl: 'http://x' },
    );
    assert.equal(logins, 1);
  });

  it('stops starting iterations when cancelled, and says so', async () => {
    const controller = new AbortController();
    const summary = await runLoad(
      async ({ iteration, signal }) => {
        if (iteration === 3) controller.abort();
        assert.equal(signal.aborted, iteration >= 3);
      },
      { iterations: 100, concurrency: 1, gatewayUrl: 'http://x', signal: controller.signal },
    );
    assert.equal(summary.cancelled, true);
    assert.equal(summary.succeeded, 4);
  });

  it('rejects options that are not positive integers', async () => {
    await assert.rejects(
      runLoad(async () => {}, { iterations: 0, concurrency: 1, gatewayUrl: 'http://x' }),
      /runLoad.iterations must be an integer >= 1, got 0/,
    );
    await assert.rejects(
      runLoad(async () => {}, { iterations: 1, concurrency: 1.5, gatewayUrl: 'http://x' }),
      /runLoad.concurrency must be an integer >= 1, got 1.5/,
    );
  });
});
