import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultInjection, InjectedFaultError, isInjectedFaultError } from './fault-injection.js';
import { manualClock } from './manual-clock.js';

/** A seeded generator (mulberry32), so injection decisions are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('faultInjection', () => {
  it('never injects at rate 0', async () => {
    const chaos = faultInjection({
      latency: { rate: 0, delayMs: 100 },
      fault: { rate: 0 },
      outcome: { rate: 0, value: () => 'fake' },
      clock: manualClock(),
    });
    for (let i = 0; i < 100; i++) assert.equal(await chaos.execute(() => i), i);
    assert.deepEqual(chaos.snapshot().details, {
      enabled: true,
      latencyInjected: 0,
      faultsInjected: 0,
      outcomesInjected: 0,
    });
  });

  it('fails every call at rate 1 with InjectedFaultError, without running the work', async () => {
    const chaos = faultInjection({ fault: { rate: 1 }, clock: manualClock() });
    let ran = false;
    const err = await chaos
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof InjectedFaultError);
    assert.ok(isInjectedFaultError(err));
    assert.equal(err.code, 'INJECTED_FAULT');
    assert.equal(err.retryable, true);
    assert.equal(ran, false);
    assert.equal(chaos.snapshot().totals.failures, 1);
  });

  it('throws the error made by fault.error', async () => {
    const chaos = faultInjection({ fault: { rate: 1, error: () => new Error('ECONNRESET') } });
    await assert.rejects(
      chaos.execute(() => 1),
      /ECONNRESET/,
    );
  });

  it('replaces the result at rate 1 without running the work', async () => {
    const chaos = faultInjection({ outcome: { rate: 1, value: () => ({ status: 503 }) } });
    let ran = false;
    const result: string | { status: number } = await chaos.execute(() => {
      ran = true;
      return 'real';
    });
    assert.deepEqual(result, { status: 503 });
    assert.equal(ran, false);
  });

  it('delays the work by delayMs at rate 1', async () => {
    const clock = manualClock();
    const chaos = faultInjection({ latency: { rate: 1, delayMs: 300 }, clock });
    let ran = false;
    const result = chaos.execute(() => {
      ran = true;
      return 'slow';
    });
    await clock.advance(299);
    assert.equal(ran, false);
    await clock.advance(1);
    assert.equal(await result, 'slow');
  });

  it("computes the delay from the call's context", async () => {
    const clock = manualClock();
    const chaos = faultInjection({ latency: { rate: 1, delayMs: (ctx) => ctx.attempt * 50 }, clock });
    const result = chaos.execute(() => 'x');
    await clock.advance(50);
    assert.equal(await result, 'x');
  });

  it("rejects at once with the caller's reason when the caller aborts during an injected delay", async () => {
    const clock = manualClock();
    const chaos = faultInjection({ latency: { rate: 1, delayMs: 1_000 }, clock });
    const caller = new AbortController();
    let ran = false;
    const result = chaos
      .execute(() => {
        ran = true;
      }, caller.signal)
      .catch((e: unknown) => e);
    const reason = new Error('gone');
    caller.abort(reason);
    assert.equal(await result, reason);
    assert.equal(ran, false);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(chaos.snapshot().totals.failures, 0);
  });

  it('rejects when a delay function returns an invalid delay', async () => {
    const chaos = faultInjection({ latency: { rate: 1, delayMs: () => -5 } });
    await assert.rejects(
      chaos.execute(() => 1),
      /faultInjection.latency.delayMs\(\) must return a finite number >= 0, got -5/,
    );
  });

  it('injects a seeded rate of 0.5 into a reproducible share of 1000 calls', async () => {
    const run = async () => {
      const chaos = faultInjection({ fault: { rate: 0.5 }, random: seeded(42) });
      let failed = 0;
      for (let i = 0; i < 1000; i++) await chaos.execute(() => i).catch(() => failed++);
      return failed;
    };
    const failed = await run();
    assert.equal(failed, 480);
    assert.equal(await run(), failed);
  });

  it('passes calls straight through, counting nothing, while disabled', async () => {
    const chaos = faultInjection({ fault: { rate: 1 }, enabled: false });
    assert.equal(chaos.enabled, false);
    assert.equal(await chaos.execute(() => 'real'), 'real');
    assert.equal(chaos.snapshot().totals.calls, 0);
    assert.equal(chaos.snapshot().state, 'disabled');
  });

  it('switches on and off at run time', async () => {
    const chaos = faultInjection({ fault: { rate: 1 } });
    chaos.disable();
    assert.equal(await chaos.execute(() => 'real'), 'real');
    chaos.enable();
    assert.equal(chaos.enabled, true);
    await assert.rejects(
      chaos.execute(() => 'real'),
      isInjectedFaultError,
    );
  });

  it('merges an update into the settings of a kind, keeping what it does not name', async () => {
    const chaos = faultInjection({ fault: { rate: 0, error: () => new Error('custom') } });
    chaos.update({ fault: { rate: 1 } });
    assert.equal(chaos.options.fault?.rate, 1);
    await assert.rejects(
      chaos.execute(() => 1),
      /custom/,
    );
  });

  it('adds and removes kinds at run time', async () => {
    const chaos = faultInjection<string>({ fault: { rate: 1 } });
    chaos.update({ fault: undefined, outcome: { rate: 1, value: () => 'fake' } });
    assert.equal(chaos.options.fault, undefined);
    assert.equal(await chaos.execute(() => 'real'), 'fake');
  });

  it('rejects an invalid update and keeps the previous settings', () => {
    const chaos = faultInjection({ fault: { rate: 0.1 } });
    assert.throws(
      () => chaos.update({ fault: { rate: 2 } }),
      /faultInjection.fault.rate must be a number in \[0, 1\], got 2/,
    );
    assert.throws(() => chaos.update({ latency: { rate: 1 } }), /faultInjection.latency.delayMs/);
    assert.equal(chaos.options.fault?.rate, 0.1);
    assert.equal(chaos.options.latency, undefined);
  });

  it('exposes frozen settings', () => {
    const chaos = faultInjection({ latency: { rate: 0.5, delayMs: 10 } });
    assert.ok(Object.isFrozen(chaos.options));
    assert.ok(Object.isFrozen(chaos.options.latency));
    assert.equal(chaos.options.enabled, true);
  });

  it('emits a fault-injected event per injection and counts each kind', async () => {
    const clock = manualClock();
    const chaos = faultInjection({
      latency: { rate: 1, delayMs: 5 },
      outcome: { rate: 1, value: () => 0 },
      clock,
      name: 'chaos',
    });
    const kinds: string[] = [];
    chaos.onEvent((e) => {
      if (e.type === 'fault-injected') kinds.push(e.kind);
    });
    const result = chaos.execute(() => 1);
    await clock.advance(5);
    assert.equal(await result, 0);
    assert.deepEqual(kinds, ['latency', 'outcome']);
    const details = chaos.snapshot().details;
    assert.equal(details?.latencyInjected, 1);
    assert.equal(details?.outcomesInjected, 1);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => faultInjection({ latency: { rate: -0.1, delayMs: 1 } }),
      /faultInjection.latency.rate must be a number in \[0, 1\], got -0.1/,
    );
    assert.throws(
      () => faultInjection({ latency: { rate: 1, delayMs: Number.NaN } }),
      /faultInjection.latency.delayMs must be a finite number >= 0 or a function, got NaN/,
    );
    assert.throws(
      () => faultInjection({ fault: { rate: 1, error: 'x' as never } }),
      /faultInjection.fault.error must be a function/,
    );
    assert.throws(
      () => faultInjection({ outcome: { rate: 1, value: 3 as never } }),
      /faultInjection.outcome.value must be a function/,
    );
    assert.throws(
      () => faultInjection({ enabled: 'yes' as never }),
      /faultInjection.enabled must be a boolean/,
    );
    assert.throws(() => faultInjection({ random: 0.5 as never }), /faultInjection.random must be a function/);
  });
});
