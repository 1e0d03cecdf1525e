import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { declinedByRule, isProviderUnavailableError, simulatedProvider } from './provider.js';

const charge = { currency: 'EUR', idempotencyKey: 'k' };

describe('simulated payment provider', () => {
  it('declines every amount ending in 13 minor units, and only those', () => {
    for (const amount of [13, 113, 1013, 99_913]) assert.equal(declinedByRule(amount), true, String(amount));
    for (const amount of [1, 12, 14, 130, 1300, 1031])
      assert.equal(declinedByRule(amount), false, String(amount));
  });

  it('answers the demo rule with AMOUNT_RULE and captures other amounts', async () => {
    const provider = simulatedProvider({ latencyMs: 0 });
    assert.deepEqual(await provider.charge({ ...charge, amountMinor: 2513 }), {
      outcome: 'declined',
      reason: 'AMOUNT_RULE',
    });
    assert.deepEqual(await provider.charge({ ...charge, amountMinor: 2500 }), { outcome: 'captured' });
  });

  it('declines at the configured rate', async () => {
    let draw = 0.1;
    const provider = simulatedProvider({ latencyMs: 0, declineRate: 0.25, random: () => draw });
    assert.deepEqual(await provider.charge({ ...charge, amountMinor: 100 }), {
      outcome: 'declined',
      reason: 'PROVIDER_DECLINED',
    });
    draw = 0.3;
    assert.deepEqual(await provider.charge({ ...charge, amountMinor: 100 }), { outcome: 'captured' });
  });

  it('fails charges and refunds at the configured rate with a retryable PROVIDER_UNAVAILABLE', async () => {
    const provider = simulatedProvider({ latencyMs: 0, failureRate: 0.5, random: () => 0.2 });
    const failure = await provider.charge({ ...charge, amountMinor: 100 }).catch((e: unknown) => e);
    assert.ok(isProviderUnavailableError(failure));
    assert.equal(failure.retryable, true);
    const refund = await provider
      .refund({ paymentId: 'p', amountMinor: 100, idempotencyKey: 'r' })
      .catch((e: unknown) => e);
    assert.ok(isProviderUnavailableError(refund));
  });

  it('answers after its latency on the given clock, and stops waiting when aborted', async () => {
    const clock = manualClock();
    const provider = simulatedProvider({ latencyMs: 50, clock });
    let answered = false;
    const pending = provider.charge({ ...charge, amountMinor: 100 }).then((d) => {
      answered = true;
      return d;
    });
    await clock.advance(49);
    assert.equal(answered, false);
    await clock.advance(1);
    assert.deepEqual(await pending, { outcome: 'captured' });

    const controller = new AbortController();
    const aborted = provider.charge({ ...charge, amountMinor: 100 }, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await assert.rejects(aborted, /caller gave up/);
    assert.equal(clock.pendingTimers, 0);
  });

  it('refuses rates outside 0..1', () => {
    assert.throws(() => simulatedProvider({ declineRate: 2 }), /declineRate must be within 0\.\.1, got 2/);
    assert.throws(() => simulatedProvider({ failureRate: -0.1 }), /failureRate/);
  });
});
