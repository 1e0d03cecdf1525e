import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { type Endpoint, type LoadBalancer, loadBalancer, type OutlierEvent } from './load-balancer.js';

const A = 'http://127.0.0.1:7101';
const B = 'http://127.0.0.1:7102';
const C = 'http://127.0.0.1:7103';
const D = 'http://127.0.0.1:7104';

/** A deterministic source of draws: cycles through `values`. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

function failTimes(lb: LoadBalancer<string>, url: string, times: number): void {
  for (let i = 0; i < times; i++) {
    let e: Endpoint<string> | undefined;
    // Round-robin until the instance comes up; the others get successes.
    for (;;) {
      e = lb.pick();
      assert.ok(e);
      if (e.url === url) break;
      lb.release(e, 'success');
    }
    lb.release(e, 'failure');
  }
}

describe('loadBalancer', () => {
  it('spreads calls evenly with round-robin', () => {
    const lb = loadBalancer({ strategy: 'round-robin' });
    lb.update([A, B, C]);
    const seen = Array.from({ length: 6 }, () => {
      const e = lb.pick()!;
      lb.release(e, 'success');
      return e.url;
    });
    assert.deepEqual(seen, [A, B, C, A, B, C]);
  });

  it('sends least-outstanding calls to the less busy of two random instances', () => {
    const lb = loadBalancer({ strategy: 'least-outstanding', random: sequence(0, 0) });
    lb.update([A, B]);
    // Draws always compare A (first) with B (second): the less busy one wins, A on ties.
    const first = lb.pick()!;
    const second = lb.pick()!;
    const third = lb.pick()!;
    assert.deepEqual([first.url, second.url, third.url], [A, B, A]);
    lb.release(first, 'success');
    lb.release(third, 'success');
    assert.equal(lb.pick()!.url, A);
    assert.deepEqual(
      lb.snapshot().map((i) => [i.url, i.outstanding]),
      [
        [A, 1],
        [B, 1],
      ],
    );
  });

  it('never compares an instance with itself', () => {
    // Both draws land on index 0; the second is shifted past the first.
    const lb = loadBalancer({ random: sequence(0, 0) });
    lb.update([A, B]);
    const busy = lb.pick()!;
    assert.equal(busy.url, A);
    assert.equal(lb.pick()!.url, B);
  });

  it('ejects an instance after consecutive failures and brings it back after the ejection time', async () => {
    const clock = manualClock();
    const lb = loadBalancer({
      strategy: 'round-robin',
      clock,
      outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 1_000 },
    });
    const events: OutlierEvent[] = [];
    lb.onOutlier((e) => events.push(e));
    lb.update([A, B]);
    failTimes(lb, A, 3);
    assert.deepEqual(events, [{ type: 'ejected', url: A, durationMs: 1_000, times: 1 }]);
    const picks = Array.from({ length: 4 }, () => {
      const e = lb.pick()!;
      lb.release(e, 'success');
      return e.url;
    });
    assert.deepEqual(picks, [B, B, B, B]);
    assert.deepEqual(
      lb.snapshot().find((i) => i.url === A),
      {
        url: A,
        outstanding: 0,
        ejected: true,
        ejectedUntilMs: 1_000,
        consecutiveFailures: 0,
        timesEjected: 1,
      },
    );
    await clock.advance(1_000);
    assert.equal(lb.snapshot().find((i) => i.url === A)?.ejected, false);
    assert.deepEqual(events.at(-1), { type: 'returned', url: A });
    const back = new Set(
      Array.from({ length: 2 }, () => {
        const e = lb.pick()!;
        lb.release(e, 'success');
        return e.url;
      }),
    );
    assert.deepEqual(back, new Set([A, B]));
  });

  it('does not eject on failures that a success interrupts', () => {
    const lb = loadBalancer({ strategy: 'round-robin', outlierDetection: { consecutiveFailures: 2 } });
    lb.update([A, B]);
    failTimes(lb, A, 1);
    const e = lb.pick()!;
    assert.equal(e.url, B);
    lb.release(e, 'success');
    const a = lb.pick()!;
    lb.release(a, 'success');
    failTimes(lb, A, 1);
    assert.equal(
      lb.snapshot().some((i) => i.ejected),
      false,
    );
  });

  it('ignores neutral outcomes', () => {
    const lb = loadBalancer({ outlierDetection: { consecutiveFailures: 2 } });
    lb.update([A]);
    for (const outcome of ['failure', 'neutral', 'failure'] as const) lb.release(lb.pick()!, outcome);
    // A single instance can never be ejected (50% of 1 rounds down to 0), but the count shows.
    assert.equal(lb.snapshot()[0]?.consecutiveFailures, 2);
  });

  it('ejects longer each time, up to maxEjectionMs', async () => {
    const clock = manualClock();
    const lb = loadBalancer({
      strategy: 'round-robin',
      clock,
      outlierDetection: { consecutiveFailures: 1, baseEjectionMs: 100, maxEjectionMs: 250 },
    });
    const durations: number[] = [];
    lb.onOutlier((e) => {
      if (e.type === 'ejected') durations.push(e.durationMs);
    });
    lb.update([A, B]);
    for (let i = 0; i < 4; i++) {
      failTimes(lb, A, 1);
      const until = lb.snapshot().find((x) => x.url === A)?.ejectedUntilMs ?? 0;
      await clock.advance(until - clock.now());
    }
    assert.deepEqual(durations, [100, 200, 250, 250]);
  });

  it('lowers the multiplier while an instance stays healthy', async () => {
    const clock = manualClock();
    const lb = loadBalancer({
      strategy: 'round-robin',
      clock,
      outlierDetection: { consecutiveFailures: 1, baseEjectionMs: 100 },
    });
    const durations: number[] = [];
    lb.onOutlier((e) => {
      if (e.type === 'ejected') durations.push(e.durationMs);
    });
    lb.update([A, B]);
    failTimes(lb, A, 1);
    await clock.advance(100);
    lb.snapshot();
    failTimes(lb, A, 1);
    await clock.advance(200);
    lb.snapshot();
    // Healthy for 250 ms = two base periods: the multiplier falls from 2 to 0 before this ejection.
    await clock.advance(250);
    failTimes(lb, A, 1);
    assert.deepEqual(durations, [100, 200, 100]);
  });

  it('never ejects more than maxEjectionPercent of the instances', () => {
    const lb = loadBalancer({
      strategy: 'round-robin',
      outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 50 },
    });
    lb.update([A, B, C, D]);
    for (let i = 0; i < 8; i++) lb.release(lb.pick()!, 'failure');
    assert.equal(lb.snapshot().filter((i) => i.ejected).length, 2);
  });

  it('keeps the state of instances that stay when the list changes', () => {
    const connected: string[] = [];
    const disconnected: string[] = [];
    const lb = loadBalancer({
      strategy: 'round-robin',
      connect: (url) => {
        connected.push(url);
        return { url };
      },
      disconnect: (_value, url) => disconnected.push(url),
    });
    lb.update([A, B, C]);
    lb.release(lb.pick()!, 'failure');
    const held = lb.pick()!;
    assert.equal(held.url, B);
    lb.update([B, A, D]);
    assert.deepEqual(connected, [A, B, C, D]);
    assert.deepEqual(disconnected, [C]);
    assert.deepEqual(
      lb.snapshot().map((i) => [i.url, i.outstanding, i.consecutiveFailures]),
      [
        [B, 1, 0],
        [A, 0, 1],
        [D, 0, 0],
      ],
    );
    lb.release(held, 'success');
    lb.close();
    assert.deepEqual(disconnected, [C, B, A, D]);
  });

  it('returns undefined when there is no instance', () => {
    const lb = loadBalancer();
    assert.equal(lb.pick(), undefined);
    assert.equal(lb.size, 0);
  });

  it('rejects bad options with the field name', () => {
    assert.throws(
      () => loadBalancer({ strategy: 'random' as never }),
      /loadBalancer.strategy must be 'round-robin' or 'least-outstanding', got "random"/,
    );
    assert.throws(
      () => loadBalancer({ outlierDetection: { consecutiveFailures: 0 } }),
      /outlierDetection.consecutiveFailures must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => loadBalancer({ outlierDetection: { baseEjectionMs: 10, maxEjectionMs: 5 } }),
      /maxEjectionMs must be a finite number >= baseEjectionMs \(10\), got 5/,
    );
    assert.throws(
      () => loadBalancer({ outlierDetection: { maxEjectionPercent: 120 } }),
      /maxEjectionPercent must be a number in 0..100, got 120/,
    );
  });
});
