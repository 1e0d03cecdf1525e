import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { Split, type SplitConfig } from './config.js';
import { compareResponses } from './json-compare.js';
import { createSplitController, type RollbackEvent, stickyPosition } from './split.js';

/** A seeded generator of uniform numbers in [0, 1) (mulberry32), so runs repeat exactly. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const split = (extra: Record<string, unknown> = {}): SplitConfig =>
  Split.parse({
    legacy: { service: 'monolith', rewrite: '/legacy/orders/*' },
    candidate: { service: 'order' },
    weight: 25,
    ...extra,
  });

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

const json = (value: unknown, status = 200) => ({
  status,
  contentType: 'application/json',
  body: new TextEncoder().encode(JSON.stringify(value)),
});

describe('weighted split', () => {
  it('sends about `weight` percent of 10k users to the candidate', () => {
    for (const weight of [1, 10, 25, 50, 90]) {
      const c = createSplitController('orders', split({ weight }));
      const n = keys.filter((k) => c.choose(k, 'GET').side === 'candidate').length;
      assert.ok(Math.abs(n - weight * 100) <= 200, `weight ${weight}: ${n} of 10000 on the candidate`);
    }
  });

  it('honours fractional weights', () => {
    const c = createSplitController('orders', split({ weight: 0.5 }));
    const n = keys.filter((k) => c.choose(k, 'GET').side === 'candidate').length;
    assert.ok(n >= 25 && n <= 75, `${n} of 10000 at weight 0.5`);
  });

  it('keeps a user on the same side, across controllers and restarts', () => {
    const a = createSplitController('orders', split(), { random: () => 0 });
    const b = createSplitController('orders', split(), { random: () => 0.999 });
    for (const key of keys.slice(0, 1000)) {
      const side = a.choose(key, 'GET').side;
      assert.equal(a.choose(key, 'GET').side, side);
      assert.equal(b.choose(key, 'GET').side, side, `user ${key} moved`);
    }
  });

  it('only moves users from legacy to candidate when the weight rises', () => {
    const c = createSplitController('orders', split({ weight: 0 }));
    let onCandidate = new Set<string>();
    for (const weight of [0, 0.1, 1, 5, 10, 25, 50, 75, 99.9, 100]) {
      c.setWeight(weight);
      const now = new Set(keys.filter((k) => c.choose(k, 'GET').side === 'candidate'));
      for (const key of onCandidate)
        assert.ok(now.has(key), `${key} went back to legacy at weight ${weight}`);
      assert.ok(now.size >= onCandidate.size);
      onCandidate = now;
    }
    assert.equal(onCandidate.size, keys.length);
  });

  it('places keys by position: candidate exactly when the position is below the weight', () => {
    const c = createSplitController('orders', split({ weight: 37.5 }));
    for (const key of keys.slice(0, 2000)) {
      const expected = stickyPosition('orders', key) < 37.5 ? 'candidate' : 'legacy';
      assert.equal(c.choose(key, 'GET').side, expected);
    }
  });

  it('spreads users differently per route, so the same users are not first everywhere', () => {
    const first = (route: string) => new Set(keys.filter((k) => stickyPosition(route, k) < 10));
    const orders = first('orders');
    const carts = first('carts');
    const both = [...orders].filter((k) => carts.has(k)).length;
    // Independent 10 % samples overlap on about 1 % of users.
    assert.ok(both < 200, `${both} users in the first 10 % of both routes`);
  });

  it('draws from the random source for requests without a sticky key', () => {
    const draws = [0.2, 0.25, 0.2499];
    const c = createSplitController('orders', split(), { random: () => draws.shift() ?? 0 });
    assert.equal(c.choose(undefined, 'GET').side, 'candidate');
    assert.equal(c.choose(undefined, 'GET').side, 'legacy');
    assert.equal(c.choose(undefined, 'GET').side, 'candidate');
  });

  it('splits anonymous requests by weight with a seeded random source', () => {
    const c = createSplitController('orders', split({ weight: 30 }), { random: seeded(42) });
    let n = 0;
    for (let i = 0; i < 10_000; i++) if (c.choose(undefined, 'GET').side === 'candidate') n++;
    assert.ok(Math.abs(n - 3000) <= 200, `${n} of 10000`);
  });

  it('sends everyone to legacy at 0 and to the candidate at 100', () => {
    const zero = createSplitController('orders', split({ weight: 0 }));
    const all = createSplitController('orders', split({ weight: 100 }));
    for (const key of keys.slice(0, 500)) {
      assert.deepEqual(zero.choose(key, 'GET'), { side: 'legacy', target: split().legacy });
      assert.deepEqual(all.choose(key, 'GET'), { side: 'candidate', target: split().candidate });
    }
  });
});

describe('shadow traffic', () => {
  const shadowed = (shadow: Record<string, unknown>, weight = 0) => split({ weight, shadow });

  it('mirrors safe requests served by legacy to the candidate', () => {
    const c = createSplitController('orders', shadowed({}));
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'get'])
      assert.deepEqual(c.choose('u1', method), {
        side: 'legacy',
        target: split().legacy,
        mirror: split().candidate,
      });
  });

  it('never mirrors unsafe methods unless allowed', () => {
    const c = createSplitController('orders', shadowed({}));
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      assert.equal(c.choose('u1', method).mirror, undefined);
    const allowed = createSplitController('orders', shadowed({ allowUnsafeMethods: true }));
    assert.deepEqual(allowed.choose('u1', 'POST').mirror, split().candidate);
  });

  it('does not mirror requests the candidate serves', () => {
    const c = createSplitController('orders', shadowed({}, 100));
    assert.equal(c.choose('u1', 'GET').mirror, undefined);
  });

  it('samples mirrored requests at sampleRate', () => {
    const c = createSplitController('orders', shadowed({ sampleRate: 0.25 }), { random: seeded(7) });
    let n = 0;
    for (let i = 0; i < 10_000; i++) if (c.choose(`u${i}`, 'GET').mirror !== undefined) n++;
    assert.ok(Math.abs(n - 2500) <= 200, `${n} of 10000 mirrored`);
    const never = createSplitController('orders', shadowed({ sampleRate: 0 }), { random: () => 0 });
    assert.equal(never.choose('u1', 'GET').mirror, undefined);
  });

  it('has no mirror and no shadow status without shadow config', () => {
    const c = createSplitController('orders', split({ weight: 0 }));
    assert.equal(c.choose('u1', 'GET').mirror, undefined);
    assert.equal(c.status().shadow, undefined);
  });

  it('counts comparisons and keeps the newest mismatch samples with both bodies', async () => {
    const clock = manualClock();
    const c = createSplitController('orders', shadowed({ keepSamples: 2, ignore: ['$.at'] }), { clock });
    c.recordComparison(compareResponses(json({ id: 1, at: 1 }), json({ id: 1, at: 2 }), ['$.at']), {
      method: 'GET',
      path: '/api/orders/1',
    });
    for (const id of [2, 3, 4]) {
      await clock.advance(1_000);
      c.recordComparison(compareResponses(json({ id, total: 5 }), json({ id, total: 6 }, 500), []), {
        method: 'GET',
        path: `/api/orders/${id}`,
      });
    }
    const shadow = c.status().shadow;
    assert.ok(shadow);
    assert.equal(shadow.compared, 4);
    assert.equal(shadow.mismatches, 3);
    assert.equal(shadow.mismatchRate, 0.75);
    assert.deepEqual(
      shadow.samples.map((s) => s.path),
      ['/api/orders/4', '/api/orders/3'],
    );
    const newest = shadow.samples[0];
    assert.deepEqual(newest?.primary, { status: 200, body: { id: 4, total: 5 } });
    assert.deepEqual(newest?.candidate, { status: 500, body: { id: 4, total: 6 } });
    assert.deepEqual(newest?.differences, [
      { path: 'status', primary: 200, candidate: 500 },
      { path: '$.total', primary: 5, candidate: 6 },
    ]);
    assert.equal(Date.parse(newest?.at ?? '') - Date.parse(shadow.samples[1]?.at ?? ''), 1_000);
  });

  it('keeps no samples when keepSamples is 0 but still counts', () => {
    const c = createSplitController('orders', shadowed({ keepSamples: 0 }));
    c.recordComparison({ match: false, differences: [{ path: '$.a', primary: 1, candidate: 2 }] });
    assert.equal(c.status().shadow?.mismatches, 1);
    assert.deepEqual(c.status().shadow?.samples, []);
  });
});

describe('automatic rollback', () => {
  const guarded = (guards: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    split({ weight: 25, guards, ...extra });

  it('drops the weight to 0, records the rollback and tells listeners when a guard trips', async () => {
    const clock = manualClock();
    const c = createSplitController('orders', guarded({ errorRate: { max: 0.1, minRequests: 20 } }), {
      clock,
    });
    const events: RollbackEvent[] = [];
    c.onRollback((e) => events.push(e));
    for (let i = 0; i < 19; i++) c.record('candidate', { status: 500, durationMs: 3 });
    assert.equal(c.status().weight, 25, 'not below minRequests');
    assert.equal(events.length, 0);
    await clock.advance(5_000);
    c.record('candidate', { status: 500, durationMs: 3 });
    const status = c.status();
    assert.equal(status.weight, 0);
    assert.equal(status.configuredWeight, 25);
    assert.equal(status.rolledBack?.guard, 'errorRate');
    assert.match(status.rolledBack?.detail ?? '', /5xx rate 1 \(20 of 20 requests/);
    assert.ok(!Number.isNaN(Date.parse(status.rolledBack?.at ?? '')));
    assert.deepEqual(events, [{ routeId: 'orders', guard: 'errorRate', detail: status.rolledBack?.detail }]);
    for (const key of keys.slice(0, 500)) assert.equal(c.choose(key, 'GET').side, 'legacy');
  });

  it('rolls back once, however many times guards trip afterwards', () => {
    const c = createSplitController('orders', guarded({ errorRate: { max: 0.1, minRequests: 1 } }));
    const events: RollbackEvent[] = [];
    c.onRollback((e) => events.push(e));
    c.record('candidate', { status: 500, durationMs: 1 });
    c.record('candidate', { status: 500, durationMs: 1 });
    c.candidateBreaker('open');
    assert.equal(events.length, 1);
    assert.equal(c.status().rolledBack?.guard, 'errorRate');
  });

  it('rolls back on a slow candidate (p99)', () => {
    const c = createSplitController('orders', guarded({ p99: { maxMs: 250, minRequests: 50 } }));
    for (let i = 0; i < 49; i++) c.record('candidate', { status: 200, durationMs: 900 });
    assert.equal(c.status().rolledBack, undefined);
    c.record('candidate', { status: 200, durationMs: 900 });
    assert.equal(c.status().rolledBack?.guard, 'p99');
  });

  it('rolls back when the candidate breaker opens, by default', () => {
    const c = createSplitController('orders', split({ weight: 10 }));
    c.candidateBreaker('half-open');
    assert.equal(c.status().weight, 10);
    c.candidateBreaker('open');
    assert.equal(c.status().weight, 0);
    assert.equal(c.status().rolledBack?.guard, 'breakerOpen');
  });

  it('rolls back on shadow mismatches', () => {
    const c = createSplitController(
      'orders',
      guarded({ mismatchRate: { max: 0.05, minComparisons: 20 } }, { shadow: {} }),
    );
    const mismatch = compareResponses(json({ a: 1 }), json({ a: 2 }), []);
    for (let i = 0; i < 19; i++) c.recordComparison(mismatch);
    assert.equal(c.status().rolledBack, undefined);
    c.recordComparison(mismatch);
    assert.equal(c.status().rolledBack?.guard, 'mismatchRate');
  });

  it('does not count legacy failures against the candidate', () => {
    const c = createSplitController('orders', guarded({ errorRate: { max: 0.1, minRequests: 1 } }));
    for (let i = 0; i < 50; i++) c.record('legacy', { status: 500, durationMs: 1 });
    c.record('candidate', { status: 200, durationMs: 1 });
    assert.equal(c.status().rolledBack, undefined);
    assert.deepEqual(c.status().requests, { legacy: 50, candidate: 1 });
  });

  it('shows a tripped guard at weight 0 without a rollback', () => {
    const c = createSplitController('orders', split({ weight: 0 }));
    const events: RollbackEvent[] = [];
    c.onRollback((e) => events.push(e));
    c.candidateBreaker('open');
    assert.equal(c.status().rolledBack, undefined);
    assert.deepEqual(c.status().guards, [{ name: 'breakerOpen', tripped: true, value: 1, threshold: 1 }]);
    assert.equal(events.length, 0);
  });

  it('clears the rollback when an operator sets a weight, with fresh live-traffic windows', () => {
    const c = createSplitController('orders', guarded({ errorRate: { max: 0.1, minRequests: 5 } }));
    for (let i = 0; i < 5; i++) c.record('candidate', { status: 500, durationMs: 1 });
    assert.equal(c.status().weight, 0);
    c.setWeight(5);
    const status = c.status();
    assert.equal(status.weight, 5);
    assert.equal(status.configuredWeight, 5);
    assert.equal(status.rolledBack, undefined);
    assert.equal(status.guards.find((g) => g.name === 'errorRate')?.samples, 0);
    c.record('candidate', { status: 200, durationMs: 1 });
    assert.equal(c.status().weight, 5);
  });

  it('rolls back again at once when the operator raises the weight while the breaker is still open', () => {
    const c = createSplitController('orders', split({ weight: 10 }));
    const events: RollbackEvent[] = [];
    c.onRollback((e) => events.push(e));
    c.candidateBreaker('open');
    c.setWeight(20);
    assert.equal(c.status().weight, 0);
    assert.equal(c.status().configuredWeight, 20);
    assert.equal(events.length, 2);
    c.candidateBreaker('closed');
    c.setWeight(20);
    assert.equal(c.status().weight, 20);
  });

  it('keeps shadow evidence across weight changes, so a mismatching candidate cannot be promoted', () => {
    const c = createSplitController(
      'orders',
      guarded({ mismatchRate: { max: 0.1, minComparisons: 20 } }, { weight: 0, shadow: {} }),
    );
    const mismatch = compareResponses(json({ a: 1 }), json({ a: 2 }), []);
    for (let i = 0; i < 20; i++) c.recordComparison(mismatch);
    assert.equal(c.status().rolledBack, undefined, 'nothing to roll back at weight 0');
    c.setWeight(1);
    assert.equal(c.status().weight, 0);
    assert.equal(c.status().rolledBack?.guard, 'mismatchRate');
  });

  it('stops telling a listener once disposed', () => {
    const c = createSplitController('orders', split({ weight: 10 }));
    const events: RollbackEvent[] = [];
    c.onRollback((e) => events.push(e)).dispose();
    c.candidateBreaker('open');
    assert.equal(events.length, 0);
  });

  it('stamps rollbacks with wall time that follows the clock', async () => {
    const clock = manualClock();
    const c = createSplitController('orders', split({ weight: 10 }), { clock });
    c.candidateBreaker('open');
    const first = Date.parse(c.status().rolledBack?.at ?? '');
    c.candidateBreaker('closed');
    await clock.advance(60_000);
    c.setWeight(10);
    c.candidateBreaker('isolated');
    assert.equal(Date.parse(c.status().rolledBack?.at ?? '') - first, 60_000);
  });
});

describe('split configuration', () => {
  it('rejects a weight outside 0..100 naming the route', () => {
    assert.throws(
      () => createSplitController('orders', { ...split(), weight: 101 }),
      /route "orders" split\.weight must be a number in 0\.\.100, got 101/,
    );
    const c = createSplitController('orders', split());
    assert.throws(() => c.setWeight(-1), /route "orders" split weight must be a number in 0\.\.100, got -1/);
    assert.throws(() => c.setWeight(Number.NaN), /got NaN/);
    assert.equal(c.status().weight, 25);
  });

  it('rejects an unsupported ignore path naming the route and the entry', () => {
    assert.throws(
      () => createSplitController('orders', split({ shadow: { ignore: ['$.ok', '$.items[?(@.x)]'] } })),
      /route "orders" split\.shadow\.ignore\[1\]/,
    );
  });

  it('rejects a mismatchRate guard without shadow traffic', () => {
    assert.throws(
      () => createSplitController('orders', split({ guards: { mismatchRate: { max: 0.1 } } })),
      /route "orders" split\.guards\.mismatchRate needs route "orders" split\.shadow/,
    );
  });

  it('reports the whole migration status', () => {
    const c = createSplitController(
      'orders',
      split({ weight: 10, shadow: {}, guards: { errorRate: { max: 0.05 } } }),
    );
    c.record('legacy', { status: 200, durationMs: 4 });
    assert.deepEqual(c.status(), {
      routeId: 'orders',
      weight: 10,
      configuredWeight: 10,
      requests: { legacy: 1, candidate: 0 },
      shadow: { compared: 0, mismatches: 0, mismatchRate: 0, samples: [] },
      guards: [
        { name: 'breakerOpen', tripped: false, value: 0, threshold: 1 },
        { name: 'errorRate', tripped: false, value: null, threshold: 0.05, samples: 0, minSamples: 20 },
      ],
      rolledBack: undefined,
    });
  });
});
