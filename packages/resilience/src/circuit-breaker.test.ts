import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BrokenCircuitError,
  type CircuitBreakerOptions,
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isIsolatedCircuitError,
} from './circuit-breaker.js';
import { consecutiveBreaker } from './consecutive-breaker.js';
import type { Work } from './context.js';
import { handleType } from './handlers.js';
import { type ManualClock, manualClock } from './manual-clock.js';
import { pipeline } from './pipeline.js';
import type { Policy } from './policy.js';
import { isTimeoutError, timeout } from './timeout.js';

const boom = (): never => {
  throw new Error('boom');
};

function setup(options: Omit<CircuitBreakerOptions, 'clock'> = {}) {
  const clock = manualClock();
  const breaker = circuitBreaker({ halfOpenAfterMs: 1_000, ...options, clock });
  let ran = 0;
  /** Runs a call that fails; resolves to the error it rejected with. */
  const fail = (error: unknown = new Error('boom')) =>
    breaker
      .execute(() => {
        ran++;
        throw error;
      })
      .then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
  /** Runs a call that succeeds; resolves to its value, or the error it rejected with. */
  const succeed = () =>
    breaker
      .execute(() => {
        ran++;
        return 'ok';
      })
      .catch((e: unknown) => e);
  return { clock, breaker, fail, succeed, ran: () => ran };
}

async function trip(breaker: CircuitBreakerPolicy, failures: number): Promise<void> {
  for (let i = 0; i < failures; i++) await breaker.execute(boom).catch(() => undefined);
}

/** Work that settles when told to. */
function pending<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { work: () => promise, resolve, reject };
}

/** Opens the circuit, then lets the break elapse: the circuit is half-open. */
async function halfOpen(breaker: CircuitBreakerPolicy, clock: ManualClock, failures = 5): Promise<void> {
  await trip(breaker, failures);
  assert.equal(breaker.state, 'open');
  await clock.advance(1_000);
  assert.equal(breaker.state, 'half-open');
}

describe('circuitBreaker', () => {
  it('opens after 5 consecutive failures by default', async () => {
    const { breaker, fail } = setup();
    for (let i = 0; i < 4; i++) await fail();
    assert.equal(breaker.state, CircuitState.Closed);
    await fail();
    assert.equal(breaker.state, CircuitState.Open);
  });

  it('starts the consecutive count again after a success', async () => {
    const { breaker, fail, succeed } = setup({ breaker: consecutiveBreaker(3) });
    await fail();
    await fail();
    assert.equal(await succeed(), 'ok');
    await fail();
    await fail();
    assert.equal(breaker.state, 'closed');
    await fail();
    assert.equal(breaker.state, 'open');
  });

  it('rejects fast while open, without running the work, with retryAfterMs until the next probe', async () => {
    const { breaker, clock, fail, ran } = setup({ breaker: consecutiveBreaker(1) });
    await fail();
    await clock.advance(400);
    const err = await fail();
    assert.ok(err instanceof BrokenCircuitError);
    assert.ok(isBrokenCircuitError(err));
    assert.equal(err.code, 'BROKEN_CIRCUIT');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 600);
    assert.equal(ran(), 1);
    assert.equal(breaker.snapshot().totals.rejections, 1);
  });

  it('becomes half-open when the break elapses', async () => {
    const { breaker, clock, fail } = setup({ breaker: consecutiveBreaker(1) });
    await fail();
    await clock.advance(999);
    assert.equal(breaker.state, 'open');
    await clock.advance(1);
    assert.equal(breaker.state, 'half-open');
  });

  it('admits exactly halfOpenMaxProbes concurrent probes and rejects the rest with retryAfterMs 0', async () => {
    const { breaker, clock } = setup({ halfOpenMaxProbes: 2, halfOpenSuccesses: 2 });
    await halfOpen(breaker, clock);
    const a = pending<string>();
    const b = pending<string>();
    const pa = breaker.execute(a.work);
    const pb = breaker.execute(b.work);
    const rejected = await breaker.execute(() => 'third').catch((e: unknown) => e);
    assert.ok(rejected instanceof BrokenCircuitError);
    assert.equal(rejected.retryAfterMs, 0);
    a.resolve('a');
    b.resolve('b');
    assert.deepEqual(await Promise.all([pa, pb]), ['a', 'b']);
  });

  it('closes after halfOpenSuccesses successful probes', async () => {
    const { breaker, clock, succeed } = setup({ halfOpenSuccesses: 3 });
    await halfOpen(breaker, clock);
    await succeed();
    await succeed();
    assert.equal(breaker.state, 'half-open');
    await succeed();
    assert.equal(breaker.state, 'closed');
  });

  it('opens again when a probe fails', async () => {
    const { breaker, clock, succeed, fail } = setup({ halfOpenSuccesses: 2 });
    await halfOpen(breaker, clock);
    await succeed();
    await fail();
    assert.equal(breaker.state, 'open');
  });

  it('lengthens the break after each failed probe by the multiplier, up to halfOpenAfterMaxMs', async () => {
    const { clock, fail } = setup({
      breaker: consecutiveBreaker(1),
      halfOpenAfterMaxMs: 3_000,
      halfOpenAfterMultiplier: 2,
    });
    const retryAfter = async () => ((await fail()) as BrokenCircuitError).retryAfterMs;
    await fail();
    assert.equal(await retryAfter(), 1_000);
    for (const expected of [2_000, 3_000, 3_000]) {
      await clock.next(); // the break elapses
      await fail(); // the probe fails
      assert.equal(await retryAfter(), expected);
    }
  });

  it('goes back to the first break length once the circuit closes', async () => {
    const { breaker, clock, fail, succeed } = setup({
      breaker: consecutiveBreaker(1),
      halfOpenAfterMaxMs: 8_000,
    });
    await fail();
    await clock.next();
    await fail(); // break 2: 2000 ms
    await clock.next();
    await succeed();
    assert.equal(breaker.state, 'closed');
    await fail();
    assert.equal(((await fail()) as BrokenCircuitError).retryAfterMs, 1_000);
  });

  it('frees the probe slot of a probe whose error is not handled, without deciding', async () => {
    const { breaker, clock, fail, succeed } = setup({ handle: handleType(RangeError), halfOpenSuccesses: 1 });
    for (let i = 0; i < 5; i++) await fail(new RangeError('bad'));
    await clock.advance(1_000);
    const err = await fail(new TypeError('not counted'));
    assert.ok(err instanceof TypeError);
    assert.equal(breaker.state, 'half-open');
    assert.equal(await succeed(), 'ok');
    assert.equal(breaker.state, 'closed');
  });

  it('does not count errors that handle rejects, and passes them through', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(2), handle: handleType(RangeError) });
    for (let i = 0; i < 5; i++) assert.ok((await fail(new TypeError('ignored'))) instanceof TypeError);
    assert.equal(breaker.state, 'closed');
    await fail(new RangeError('counted'));
    await fail(new RangeError('counted'));
    assert.equal(breaker.state, 'open');
  });

  it('counts values matched by handleResult as failures and still returns them', async () => {
    const clock = manualClock();
    const breaker = circuitBreaker({
      breaker: consecutiveBreaker(2),
      handleResult: (v) => (v as { status: number }).status >= 500,
      clock,
    });
    assert.deepEqual(await breaker.execute(() => ({ status: 503 })), { status: 503 });
    assert.deepEqual(await breaker.execute(() => ({ status: 200 })), { status: 200 });
    await breaker.execute(() => ({ status: 503 }));
    await breaker.execute(() => ({ status: 502 }));
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.snapshot().totals.failures, 3);
  });

  it('does not count a failure of a call whose caller aborted', async () => {
    const { breaker } = setup({ breaker: consecutiveBreaker(1) });
    const caller = new AbortController();
    const result = breaker
      .execute(
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(new Error('aborted work'))),
          ),
        caller.signal,
      )
      .catch((e: unknown) => e);
    caller.abort(new Error('client left'));
    assert.equal(((await result) as Error).message, 'aborted work');
    assert.equal(breaker.state, 'closed');
  });

  it("does not run the work when an enclosing policy's scope aborted before the breaker was reached", async () => {
    const clock = manualClock();
    const breaker = circuitBreaker({ clock });
    // A foreign policy that holds the call back until after the outer timeout has fired.
    const delay = {
      kind: 'delay',
      name: 'delay',
      execute: async <T>(fn: Work<T>, signal?: AbortSignal) => {
        await new Promise<void>((res) => clock.setTimeout(res, 20));
        return fn({ signal: signal ?? new AbortController().signal, attempt: 1 });
      },
      onEvent: () => ({ dispose() {} }),
      snapshot: () => breaker.snapshot(),
    } satisfies Policy;
    let ran = false;
    const result = pipeline(timeout({ timeoutMs: 10, clock }), delay, breaker)
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    await clock.advance(20);
    assert.ok(isTimeoutError(await result));
    assert.equal(ran, false);
    assert.equal(breaker.snapshot().totals.failures, 0);
  });

  it('ignores late outcomes of calls admitted before the circuit opened', async () => {
    const { breaker, clock, fail } = setup({ breaker: consecutiveBreaker(1) });
    const late = pending<string>();
    const inFlight = breaker.execute(late.work).catch((e: unknown) => e);
    await fail();
    await clock.advance(1_000);
    assert.equal(breaker.state, 'half-open');
    late.reject(new Error('late')); // not a probe: must not reopen the circuit
    await inFlight;
    assert.equal(breaker.state, 'half-open');
  });

  it('holds the circuit isolated until every isolate handle is disposed, then closes', async () => {
    const { breaker, fail, succeed, ran } = setup();
    const first = breaker.isolate();
    const second = breaker.isolate();
    assert.equal(breaker.state, 'isolated');
    const err = await succeed();
    assert.ok(err instanceof IsolatedCircuitError);
    assert.ok(isIsolatedCircuitError(err));
    assert.equal(err.code, 'ISOLATED_CIRCUIT');
    assert.equal(err.retryable, false);
    first.dispose();
    first.dispose(); // twice counts once
    assert.equal(breaker.state, 'isolated');
    assert.ok((await fail()) instanceof IsolatedCircuitError);
    second.dispose();
    assert.equal(breaker.state, 'closed');
    assert.equal(await succeed(), 'ok');
    assert.equal(ran(), 1);
  });

  it('isolates an open circuit and cancels its pending half-open transition', async () => {
    const { breaker, clock, fail } = setup({ breaker: consecutiveBreaker(1) });
    await fail();
    const hold = breaker.isolate();
    await clock.advance(5_000);
    assert.equal(breaker.state, 'isolated');
    hold.dispose();
    assert.equal(breaker.state, 'closed');
  });

  it('reset closes an open circuit and clears the strategy', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(2) });
    await fail();
    await fail();
    breaker.reset();
    assert.equal(breaker.state, 'closed');
    await fail();
    assert.equal(breaker.state, 'closed');
  });

  it('reset clears the failures counted while closed', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(2) });
    await fail();
    breaker.reset();
    await fail();
    assert.equal(breaker.state, 'closed');
  });

  it('reset ends an isolation, and the isolate handles then do nothing', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(1) });
    const hold = breaker.isolate();
    breaker.reset();
    assert.equal(breaker.state, 'closed');
    await fail();
    assert.equal(breaker.state, 'open');
    hold.dispose();
    assert.equal(breaker.state, 'open');
  });

  it("mode 'forced-open' rejects every call, even while closed", async () => {
    const { breaker, succeed, ran } = setup({ mode: 'forced-open' });
    const err = await succeed();
    assert.ok(err instanceof BrokenCircuitError);
    assert.equal(err.retryAfterMs, 1_000);
    assert.equal(ran(), 0);
    assert.equal(breaker.state, 'closed');
  });

  it("mode 'disabled' passes every call and records nothing to the strategy", async () => {
    const { breaker, fail, ran } = setup({ breaker: consecutiveBreaker(1), mode: 'disabled' });
    for (let i = 0; i < 5; i++) await fail();
    assert.equal(breaker.state, 'closed');
    assert.equal(ran(), 5);
    assert.equal(breaker.snapshot().totals.failures, 5);
    breaker.setMode('normal');
    assert.equal(breaker.exportState().strategy.failures, 0);
  });

  it("mode 'disabled' passes calls even while the circuit is open or isolated", async () => {
    const { breaker, fail, succeed } = setup({ breaker: consecutiveBreaker(1) });
    await fail();
    breaker.setMode('disabled');
    assert.equal(await succeed(), 'ok');
    breaker.isolate();
    assert.equal(await succeed(), 'ok');
  });

  it("mode 'metrics-only' opens and emits events, but never rejects", async () => {
    const { breaker, fail, succeed, ran } = setup({ breaker: consecutiveBreaker(2), mode: 'metrics-only' });
    const seen: string[] = [];
    breaker.onBreak((e) => seen.push(`break:${e.reason}`));
    await fail();
    await fail();
    assert.equal(breaker.state, 'open');
    assert.deepEqual(seen, ['break:failures']);
    assert.equal(await succeed(), 'ok');
    assert.equal(ran(), 3);
    assert.equal(breaker.snapshot().totals.rejections, 0);
    assert.equal(breaker.snapshot().details?.wouldReject, 1);
  });

  it("mode 'metrics-only' runs the half-open probes and closes the circuit", async () => {
    const { breaker, clock, succeed } = setup({ mode: 'metrics-only' });
    await halfOpen(breaker, clock);
    await succeed();
    assert.equal(breaker.state, 'closed');
  });

  it('setMode switches the mode at run time, and rejects an unknown mode', async () => {
    const { breaker, succeed } = setup();
    breaker.setMode('forced-open');
    assert.equal(breaker.mode, 'forced-open');
    assert.ok((await succeed()) instanceof BrokenCircuitError);
    breaker.setMode('normal');
    assert.equal(await succeed(), 'ok');
    assert.throws(() => breaker.setMode('off' as 'normal'), /circuitBreaker.setMode\(mode\) must be one of/);
  });

  it('emits events in order: failure, state-change, break, rejection, half-open, reset', async () => {
    const { breaker, clock, fail, succeed } = setup({ breaker: consecutiveBreaker(2), name: 'inventory' });
    const seen: string[] = [];
    breaker.onEvent((e) => {
      if (e.type === 'state-change') seen.push(`state-change:${e.from}>${e.to}:${e.reason}`);
      else if (e.type === 'break') seen.push(`break:${e.reason}:${(e.error as Error).message}`);
      else if (e.type === 'rejection') seen.push(`rejection:${e.state}`);
      else seen.push(e.type);
      assert.equal(e.policy, 'inventory');
    });
    await fail();
    await fail();
    await fail();
    await clock.advance(1_000);
    await succeed();
    assert.deepEqual(seen, [
      'failure',
      'failure',
      'state-change:closed>open:failures',
      'break:failures:boom',
      'rejection:open',
      'state-change:open>half-open:open-elapsed',
      'half-open',
      'success',
      'state-change:half-open>closed:probes-succeeded',
      'reset',
    ]);
  });

  it('calls onBreak, onHalfOpen, onReset and onStateChange, until disposed', async () => {
    const { breaker, clock, fail } = setup({ breaker: consecutiveBreaker(1) });
    const seen: string[] = [];
    const subs = [
      breaker.onBreak((e) => seen.push(`break:${e.reason}`)),
      breaker.onHalfOpen(() => seen.push('half-open')),
      breaker.onReset(() => seen.push('reset')),
      breaker.onStateChange((e) => seen.push(`${e.from}>${e.to}`)),
    ];
    await fail();
    await clock.advance(1_000);
    breaker.isolate().dispose();
    for (const s of subs) s.dispose();
    breaker.isolate();
    assert.deepEqual(seen, [
      'closed>open',
      'break:failures',
      'open>half-open',
      'half-open',
      'half-open>isolated',
      'break:isolated',
      'isolated>closed',
      'reset',
    ]);
  });

  it('reports state, mode and strategy in its snapshot', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(1), name: 'payments' });
    await fail();
    await fail();
    const snap = breaker.snapshot();
    assert.equal(snap.kind, 'circuit-breaker');
    assert.equal(snap.name, 'payments');
    assert.equal(snap.state, 'open');
    assert.equal(snap.details?.mode, 'normal');
    assert.equal(snap.details?.strategy, 'consecutive');
    assert.equal(snap.details?.retryAfterMs, 1_000);
    assert.equal(snap.totals.calls, 2);
    assert.equal(snap.totals.rejections, 1);
    assert.equal(pipeline(breaker).snapshot().policies?.[0]?.state, 'open');
  });

  it('refuses a strategy that already belongs to another breaker', () => {
    const strategy = consecutiveBreaker(3);
    circuitBreaker({ breaker: strategy });
    assert.throws(() => circuitBreaker({ breaker: strategy }), /already belongs to another circuit breaker/);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => circuitBreaker({ halfOpenAfterMs: -1 }),
      /circuitBreaker.halfOpenAfterMs must be a finite number >= 0, got -1/,
    );
    assert.throws(
      () => circuitBreaker({ halfOpenAfterMs: 100, halfOpenAfterMaxMs: 50 }),
      /circuitBreaker.halfOpenAfterMaxMs must be a finite number >= 100, got 50/,
    );
    assert.throws(
      () => circuitBreaker({ halfOpenAfterMultiplier: 0.5 }),
      /halfOpenAfterMultiplier must be a finite number >= 1/,
    );
    assert.throws(
      () => circuitBreaker({ halfOpenMaxProbes: 0 }),
      /circuitBreaker.halfOpenMaxProbes must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => circuitBreaker({ halfOpenSuccesses: 1.5 }),
      /circuitBreaker.halfOpenSuccesses must be an integer >= 1/,
    );
    assert.throws(
      () => circuitBreaker({ mode: 'on' as 'normal' }),
      /circuitBreaker.mode must be one of 'normal'/,
    );
    assert.throws(
      () => circuitBreaker({ handle: 'all' as never }),
      /circuitBreaker.handle must be a function/,
    );
    assert.throws(
      () => circuitBreaker({ breaker: {} as never }),
      /circuitBreaker.breaker must be a BreakerStrategy/,
    );
  });
});

describe('circuitBreaker state export', () => {
  it('exports JSON data that restores an open circuit with its remaining break', async () => {
    const { breaker, clock, fail } = setup({ breaker: consecutiveBreaker(1), halfOpenAfterMaxMs: 4_000 });
    await fail();
    await clock.next();
    await fail(); // second break: 2000 ms
    await clock.advance(500);
    const exported = breaker.exportState();
    assert.deepEqual(JSON.parse(JSON.stringify(exported)), exported);
    assert.deepEqual(exported, {
      version: 1,
      state: 'open',
      openRemainingMs: 1_500,
      openCount: 2,
      strategy: { kind: 'consecutive', failures: 0 }, // probes are judged by the breaker, not the strategy
    });
    const clock2 = manualClock(123_456); // another process: another clock origin
    const restored = circuitBreaker({
      breaker: consecutiveBreaker(1),
      halfOpenAfterMs: 1_000,
      halfOpenAfterMaxMs: 4_000,
      clock: clock2,
      initialState: JSON.parse(JSON.stringify(exported)),
    });
    assert.equal(restored.state, 'open');
    const err = await restored.execute(() => 1).catch((e: unknown) => e);
    assert.equal((err as BrokenCircuitError).retryAfterMs, 1_500);
    await clock2.advance(1_500);
    assert.equal(restored.state, 'half-open');
    await restored.execute(boom).catch(() => undefined);
    assert.equal(restored.exportState().openRemainingMs, 4_000); // the third break, capped
  });

  it('round-trips a closed circuit with the failures its strategy counted', async () => {
    const { breaker, fail } = setup({ breaker: consecutiveBreaker(3) });
    await fail();
    await fail();
    const restored = circuitBreaker({ breaker: consecutiveBreaker(3), initialState: breaker.exportState() });
    assert.deepEqual(restored.exportState(), breaker.exportState());
    await restored.execute(boom).catch(() => undefined);
    assert.equal(restored.state, 'open');
  });

  it('restores a half-open circuit, which admits a probe', async () => {
    const { breaker, clock } = setup();
    await halfOpen(breaker, clock);
    const exported = breaker.exportState();
    assert.deepEqual(exported, {
      version: 1,
      state: 'half-open',
      openCount: 1,
      strategy: { kind: 'consecutive', failures: 0 },
    });
    const restored = circuitBreaker({ clock: manualClock(), initialState: exported });
    assert.equal(await restored.execute(() => 'probe'), 'probe');
    assert.equal(restored.state, 'closed');
  });

  it('restores an isolated circuit, held until reset', async () => {
    const { breaker } = setup();
    breaker.isolate();
    const restored = circuitBreaker({ clock: manualClock(), initialState: breaker.exportState() });
    assert.equal(restored.state, 'isolated');
    assert.ok(isIsolatedCircuitError(await restored.execute(() => 1).catch((e: unknown) => e)));
    restored.reset();
    assert.equal(restored.state, 'closed');
  });

  it('shortens a restored break that is longer than the break of the new breaker', () => {
    const clock = manualClock();
    const restored = circuitBreaker({
      halfOpenAfterMs: 1_000,
      clock,
      initialState: {
        version: 1,
        state: 'open',
        openRemainingMs: 60_000,
        openCount: 1,
        strategy: { kind: 'consecutive', failures: 5 },
      },
    });
    assert.equal(restored.exportState().openRemainingMs, 1_000);
  });

  const valid = {
    version: 1,
    state: 'open',
    openRemainingMs: 10,
    openCount: 1,
    strategy: { kind: 'consecutive', failures: 0 },
  };
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'open', /circuitBreaker.initialState must be an object, got "open"/],
    ['version', { ...valid, version: 3 }, /circuitBreaker.initialState.version must be 1, got 3/],
    [
      'state',
      { ...valid, state: 'ajar' },
      /circuitBreaker.initialState.state must be one of 'closed', 'open', 'half-open', 'isolated', got "ajar"/,
    ],
    [
      'openCount',
      { ...valid, openCount: 0 },
      /circuitBreaker.initialState.openCount must be an integer >= 1 when state is 'open', got 0/,
    ],
    [
      'openCount type',
      { ...valid, state: 'closed', openCount: 'x' },
      /circuitBreaker.initialState.openCount must be an integer >= 0, got "x"/,
    ],
    [
      'openRemainingMs',
      { ...valid, openRemainingMs: undefined },
      /circuitBreaker.initialState.openRemainingMs must be a finite number >= 0 when state is 'open', got undefined/,
    ],
    [
      'openRemainingMs sign',
      { ...valid, openRemainingMs: -5 },
      /circuitBreaker.initialState.openRemainingMs must be a finite number >= 0/,
    ],
    [
      'strategy',
      { ...valid, strategy: null },
      /circuitBreaker.initialState.strategy must be an object, got null/,
    ],
    [
      'strategy kind',
      { ...valid, strategy: { kind: 'count', outcomes: [] } },
      /circuitBreaker.initialState.strategy.kind must be 'consecutive', got "count"/,
    ],
    [
      'strategy field',
      { ...valid, strategy: { kind: 'consecutive', failures: -1 } },
      /circuitBreaker.initialState.strategy.failures must be an integer >= 0, got -1/,
    ],
  ];
  for (const [field, state, message] of cases)
    it(`rejects an initialState with a bad ${field}, naming the field`, () => {
      assert.throws(
        () => circuitBreaker({ initialState: state as never }),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
      );
    });

  it('leaves the strategy free for another breaker when the initialState is rejected', () => {
    const strategy = consecutiveBreaker(2);
    assert.throws(
      () => circuitBreaker({ breaker: strategy, initialState: { ...valid, version: 2 } as never }),
      TypeError,
    );
    assert.equal(circuitBreaker({ breaker: strategy }).state, 'closed');
  });
});
