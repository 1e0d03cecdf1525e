import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { Guards } from './config.js';
import { createGuards, type GuardStatus } from './guards.js';

const guardsOf = (input: unknown, clock = manualClock()) =>
  createGuards(Guards.parse(input), clock, 'route "r" split.guards');

const find = (list: GuardStatus[], name: string): GuardStatus => {
  const found = list.find((g) => g.name === name);
  assert.ok(found, `guard ${name} listed`);
  return found;
};

describe('breakerOpen guard', () => {
  it('is on by default and trips while the breaker is open or isolated', () => {
    const guards = createGuards(undefined, manualClock(), 'g');
    assert.equal(guards.breaker('half-open'), undefined);
    assert.deepEqual(guards.breaker('open'), {
      guard: 'breakerOpen',
      detail: "the candidate's circuit breaker is open",
    });
    assert.deepEqual(guards.status(), [{ name: 'breakerOpen', tripped: true, value: 1, threshold: 1 }]);
    assert.equal(guards.breaker('closed'), undefined);
    assert.equal(guards.breaker('isolated')?.guard, 'breakerOpen');
  });

  it('can be turned off', () => {
    const guards = guardsOf({ breakerOpen: false });
    assert.equal(guards.breaker('open'), undefined);
    assert.deepEqual(guards.status(), []);
  });
});

describe('errorRate guard', () => {
  const config = { errorRate: { max: 0.1, windowMs: 60_000, minRequests: 20 } };

  it('does not trip below minRequests, however bad', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 19; i++) assert.equal(guards.recordCandidate(500, 5), undefined);
    const status = find(guards.status(), 'errorRate');
    assert.deepEqual(status, {
      name: 'errorRate',
      tripped: false,
      value: 1,
      threshold: 0.1,
      samples: 19,
      minSamples: 20,
    });
  });

  it('trips when the 5xx rate exceeds max with enough requests', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 17; i++) guards.recordCandidate(200, 5);
    guards.recordCandidate(503, 5);
    guards.recordCandidate(500, 5);
    const trip = guards.recordCandidate(502, 5);
    assert.equal(trip?.guard, 'errorRate');
    assert.match(trip?.detail ?? '', /5xx rate 0\.15 \(3 of 20 requests in the last 60 s\) > max 0\.1/);
  });

  it('does not trip at exactly max, nor count 4xx as errors', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 18; i++) guards.recordCandidate(i < 10 ? 404 : 200, 5);
    guards.recordCandidate(500, 5);
    assert.equal(guards.recordCandidate(500, 5), undefined);
    assert.equal(find(guards.status(), 'errorRate').value, 0.1);
  });

  it('forgets requests older than the window', async () => {
    const clock = manualClock();
    const guards = guardsOf({ errorRate: { max: 0.5, windowMs: 60_000, minRequests: 20 } }, clock);
    for (let i = 0; i < 15; i++) guards.recordCandidate(500, 5);
    await clock.advance(60_000);
    for (let i = 0; i < 10; i++) assert.equal(guards.recordCandidate(200, 5), undefined);
    assert.equal(find(guards.status(), 'errorRate').samples, 10);
  });

  it('keeps requests that are still inside the window', async () => {
    const clock = manualClock();
    const guards = guardsOf({ errorRate: { max: 0.5, windowMs: 60_000, minRequests: 20 } }, clock);
    for (let i = 0; i < 15; i++) guards.recordCandidate(500, 5);
    await clock.advance(30_000);
    let trip: ReturnType<typeof guards.recordCandidate>;
    for (let i = 0; i < 10; i++) trip = guards.recordCandidate(200, 5);
    assert.equal(trip?.guard, 'errorRate');
  });

  it('starts afresh after restartLiveWindows', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 10; i++) guards.recordCandidate(500, 5);
    guards.restartLiveWindows();
    assert.equal(find(guards.status(), 'errorRate').samples, 0);
    assert.equal(find(guards.status(), 'errorRate').value, null);
  });
});

describe('p99 guard', () => {
  const config = { p99: { maxMs: 500, windowMs: 60_000, minRequests: 50 } };

  it('does not trip below minRequests', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 49; i++) assert.equal(guards.recordCandidate(200, 2_000), undefined);
    assert.equal(find(guards.status(), 'p99').tripped, false);
    assert.equal(find(guards.status(), 'p99').value, 2_000);
  });

  it('trips on the request that brings the window to minRequests', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 49; i++) guards.recordCandidate(200, 2_000);
    const trip = guards.recordCandidate(200, 2_000);
    assert.equal(trip?.guard, 'p99');
    assert.match(trip?.detail ?? '', /p99 latency 2000 ms \(50 requests in the last 60 s\) > max 500 ms/);
  });

  it('uses the nearest-rank p99: one slow request in 100 is fine, two are not', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 99; i++) guards.recordCandidate(200, 100);
    assert.equal(guards.recordCandidate(200, 900), undefined);
    assert.equal(find(guards.status(), 'p99').value, 100);
    // 101 requests with 2 slow ones: the 100th smallest (rank ceil(0.99 · 101)) is slow.
    assert.equal(guards.recordCandidate(200, 900)?.guard, 'p99');
  });

  it('counts a request of exactly maxMs as within the limit', () => {
    const guards = guardsOf(config);
    let trip: ReturnType<typeof guards.recordCandidate>;
    for (let i = 0; i < 60; i++) trip = guards.recordCandidate(200, 500);
    assert.equal(trip, undefined);
    assert.equal(find(guards.status(), 'p99').value, 500);
  });

  it('shows the p99 within 1 %', () => {
    const guards = guardsOf(config);
    for (let i = 1; i <= 1000; i++) guards.recordCandidate(200, i / 10);
    // Exact nearest-rank p99 of 0.1 … 100 ms is 99 ms.
    const value = find(guards.status(), 'p99').value ?? 0;
    assert.ok(value >= 99 && value <= 99 * 1.01, `p99 ${value}`);
  });

  it('forgets slow requests older than the window', async () => {
    const clock = manualClock();
    const guards = guardsOf(config, clock);
    for (let i = 0; i < 40; i++) guards.recordCandidate(200, 2_000);
    await clock.advance(60_000);
    let trip: ReturnType<typeof guards.recordCandidate>;
    for (let i = 0; i < 60; i++) trip = guards.recordCandidate(200, 10);
    assert.equal(trip, undefined);
    assert.equal(find(guards.status(), 'p99').value, 10);
  });
});

describe('mismatchRate guard', () => {
  const config = { mismatchRate: { max: 0.2, minComparisons: 20 } };

  it('does not trip below minComparisons', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 19; i++) assert.equal(guards.recordComparison(false), undefined);
    assert.equal(find(guards.status(), 'mismatchRate').tripped, false);
  });

  it('trips when the mismatch rate exceeds max', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 15; i++) guards.recordComparison(true);
    for (let i = 0; i < 4; i++) guards.recordComparison(false);
    assert.equal(guards.recordComparison(true), undefined); // 4 of 20 = 0.2: not above max
    const trip = guards.recordComparison(false);
    assert.equal(trip?.guard, 'mismatchRate');
    assert.match(trip?.detail ?? '', /mismatch rate 0\.2381 \(5 of the last 21 comparisons\) > max 0\.2/);
  });

  it('judges only the last 100 comparisons', () => {
    const guards = guardsOf(config);
    for (let i = 0; i < 50; i++) guards.recordComparison(false);
    assert.equal(guards.check()?.guard, 'mismatchRate');
    for (let i = 0; i < 100; i++) guards.recordComparison(true);
    assert.equal(guards.check(), undefined);
    const status = find(guards.status(), 'mismatchRate');
    assert.equal(status.value, 0);
    assert.equal(status.samples, 100);
  });
});

describe('guard configuration', () => {
  it('rejects out-of-range values naming the field', () => {
    assert.throws(
      () =>
        createGuards(
          { breakerOpen: true, errorRate: { max: 2, windowMs: 1, minRequests: 1 } },
          manualClock(),
          'route "r" split.guards',
        ),
      /route "r" split\.guards\.errorRate\.max must be in 0\.\.1, got 2/,
    );
    assert.throws(
      () =>
        createGuards(
          { breakerOpen: true, p99: { maxMs: 0, windowMs: 1, minRequests: 1 } },
          manualClock(),
          'g',
        ),
      /g\.p99\.maxMs must be a finite number > 0, got 0/,
    );
  });

  it('lists every configured guard in a fixed order', () => {
    const guards = guardsOf({
      errorRate: { max: 0.1 },
      p99: { maxMs: 300 },
      mismatchRate: { max: 0.01 },
    });
    assert.deepEqual(
      guards.status().map((g) => [g.name, g.threshold, g.minSamples]),
      [
        ['breakerOpen', 1, undefined],
        ['errorRate', 0.1, 20],
        ['p99', 300, 50],
        ['mismatchRate', 0.01, 20],
      ],
    );
  });
});
