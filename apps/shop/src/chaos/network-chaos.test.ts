// `flotilla chaos` network faults against the real shop: every service its own process on free
// ports, a fresh data directory, services run from source, a fault proxy in front of every
// instance. Calls between services see latency and resets; every invariant must still hold.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatChaosSummary, parseFaultSchedule, runChaos } from 'flotilla';
import { loadShopFromSource } from '../e2e/shop-harness.js';
import { shopChaos } from './shop-chaos.js';
import { chaosServiceEnv } from './test-setup.js';

describe('flotilla chaos network faults on the shop (embedded)', { timeout: 300_000 }, () => {
  it('holds every invariant while calls to payment and inventory are delayed and reset', async () => {
    const output: string[] = [];
    const report = await runChaos(await loadShopFromSource(), shopChaos, {
      durationMs: 15_000,
      quiesceMs: 60_000,
      seed: 1,
      concurrency: 4,
      faults: parseFaultSchedule(
        'latency:payment=150ms±100ms,latency:inventory=200ms±100ms@every=4s,for=2s,' +
          'reset:inventory@every=3s,reset:payment@every=5s,reset:payment@p=0.1',
      ),
      freePorts: true,
      env: chaosServiceEnv(),
      write: (chunk) => output.push(chunk),
    });
    const summary = formatChaosSummary(report, false);
    assert.ok(
      report.passed,
      `${summary}\n--- output ---\n${output.join('').split('\n').slice(-60).join('\n')}`,
    );
    const applied = report.nemesis.filter((r) => r.outcome === 'applied');
    assert.ok(
      applied.some((r) => r.action === 'latency' && r.target === 'inventory'),
      summary,
    );
    // Resets of current connections count them: some must have found calls crossing a proxy,
    // or the topology was not rewritten and the faults touched nothing.
    const crossing = applied.filter(
      (r) => r.action === 'reset' && /^[1-9]\d* connections?$/.test(r.detail ?? ''),
    );
    assert.ok(crossing.length >= 1, JSON.stringify(report.nemesis, null, 2));
    assert.ok((report.workload.outcomes.accepted ?? 0) >= 20, summary);
  });
});
