// `flotilla chaos` network faults against the real shop: every service its own process on free
// ports, a fresh data directory, services run from source, a fault proxy in front of every
// instance. Calls between services see latency and resets; every invariant must still hold.
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatChaosSummary, loadSystem, parseFaultSchedule, runChaos } from 'flotilla';
import { shopChaos } from './shop-chaos.js';

const SYSTEM_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../flotilla.system.ts');

/** As in chaos.test.ts: from source, quieter logs, compensations retried within 2 s. */
function serviceEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    FLOTILLA_SHOP_FROM_SOURCE: '1',
    FLOTILLA_LOG_LEVEL: 'warn',
    ORDER_COMPENSATION_MAX_DELAY_MS: '2000',
    ORDER_SAGA_STUCK_AFTER_ATTEMPTS: '60',
  };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

async function shopSystem(): Promise<Awaited<ReturnType<typeof loadSystem>>> {
  const previous = process.env.FLOTILLA_SHOP_FROM_SOURCE;
  process.env.FLOTILLA_SHOP_FROM_SOURCE = '1';
  try {
    return await loadSystem(SYSTEM_FILE);
  } finally {
    if (previous === undefined) delete process.env.FLOTILLA_SHOP_FROM_SOURCE;
    else process.env.FLOTILLA_SHOP_FROM_SOURCE = previous;
  }
}

describe('flotilla chaos network faults on the shop (embedded)', { timeout: 300_000 }, () => {
  it('holds every invariant while calls to payment and inventory are delayed and reset', async () => {
    const output: string[] = [];
    const report = await runChaos(await shopSystem(), shopChaos, {
      durationMs: 15_000,
      quiesceMs: 60_000,
      seed: 1,
      concurrency: 4,
      faults: parseFaultSchedule(
        'latency:payment=150ms±100ms,latency:inventory=200ms±100ms@every=4s,for=2s,' +
          'reset:inventory@every=3s,reset:payment@every=5s,reset:payment@p=0.1',
      ),
      freePorts: true,
      env: serviceEnv(),
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
