// `flotilla chaos` against the real shop: every service its own process on free ports, a fresh
// data directory, services run from source. One run with kills and freezes must hold every
// invariant; one with a deliberately broken payment service (FLOTILLA_TEST_BREAK_PAYMENT_DEDUP=1:
// it forgets Idempotency-Keys) whose answers are sometimes lost must fail with the duplicate payment as counter-example.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChaosReport, formatChaosSummary, parseFaultSchedule, runChaos } from 'flotilla';
import { loadShopFromSource } from '../e2e/shop-harness.js';
import { shopChaos } from './shop-chaos.js';
import { chaosServiceEnv } from './test-setup.js';

const applied = (report: ChaosReport, action: string): number =>
  report.nemesis.filter((r) => r.action === action && r.outcome === 'applied' && r.fault !== 'heal').length;

describe('flotilla chaos on the shop (embedded)', { timeout: 400_000 }, () => {
  it('holds every invariant while services are killed and frozen for a minute', async () => {
    const system = await loadShopFromSource();
    const output: string[] = [];
    const report = await runChaos(system, shopChaos, {
      durationMs: 60_000,
      quiesceMs: 60_000,
      seed: 1,
      concurrency: 4,
      faults: parseFaultSchedule('kill:random@every=5s,freeze:random@every=7s,for=2s'),
      freePorts: true,
      env: chaosServiceEnv({}),
      write: (chunk) => output.push(chunk),
    });
    const summary = formatChaosSummary(report, false);
    assert.ok(
      report.passed,
      `${summary}\n--- output ---\n${output.join('').split('\n').slice(-60).join('\n')}`,
    );
    // A run that injected nothing or ordered nothing would prove nothing.
    assert.ok(applied(report, 'kill') >= 1 && applied(report, 'freeze') >= 1, summary);
    assert.ok((report.workload.outcomes.accepted ?? 0) >= 20, summary);
    assert.deepEqual(
      report.check.invariants.map((i) => i.name),
      ['orders-settled', 'money-and-goods', 'stock-conserved', 'no-duplicate-effects', 'nothing-stuck'],
    );
  });

  it('reports the duplicate payment of a payment service that forgets Idempotency-Keys', async () => {
    const system = await loadShopFromSource();
    // Calls to payment are blackholed for 2 s, twice: a charge already forwarded (1.5 s at the
    // provider, so several are in flight at any moment even on a loaded machine) completes and commits, but its answer is dropped, so the saga sees a
    // transport error and charges again with the same key — which the broken build takes as a
    // new charge. Unlike a freeze, which races the payment service's own noticing that the caller
    // went away, the payment service here never learns the answer was lost. The blackholes are
    // 8 s apart so the order service's breaker, opened by the first, closes again and the
    // retries reach payment instead of running out against an open circuit.
    const report = await runChaos(system, shopChaos, {
      durationMs: 20_000,
      quiesceMs: 15_000,
      seed: 3,
      concurrency: 4,
      faults: parseFaultSchedule('blackhole:payment@every=8s,jitter=1s,for=2s'),
      freePorts: true,
      env: chaosServiceEnv({
        FLOTILLA_TEST_BREAK_PAYMENT_DEDUP: '1',
        PAYMENT_LATENCY_MS: '1500',
        ORDER_PAYMENT_RETRY_ATTEMPTS: '30',
        ORDER_RETRY_MAX_DELAY_MS: '1000',
      }),
    });
    const summary = formatChaosSummary(report, false);
    assert.equal(report.passed, false, summary);
    const duplicates = report.check.invariants.find((i) => i.name === 'no-duplicate-effects');
    const payment = duplicates?.violations.find((v) => / has \d+ payments: \[/.test(v.message));
    assert.ok(payment !== undefined, summary);
    // The counter-example names the order and every payment of it.
    const [orderId, ...paymentIds] = payment.ids;
    assert.match(
      payment.message,
      new RegExp(`^order ${orderId} has ${paymentIds.length} payments: \\[${paymentIds.join(', ')}\\]$`),
    );
    assert.ok(paymentIds.length >= 2, summary);
  });
});
