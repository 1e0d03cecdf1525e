// `flotilla chaos` on the shop spread over three hosts on one machine: three Linux network
// namespaces on a bridge, on a private 10.231.x.0/24 chosen per run, all created and removed
// here (`createNamespaceHosts`). order and catalog run on h1, payment and inventory on h2,
// shipping and notification on h3; legacy runs beside the supervisor on the bridge's address
// (h1's services call it), the gateway beside it on 127.0.0.1. The embedded mode keeps its
// SQLite files and event log on the shared filesystem, so events cross hosts through files while
// calls cross the bridge. While orders flow, a `partition` fault cuts h2 off (its link down) for
// 8 s and reconnects it; afterwards every invariant must hold, and the cut must have been felt:
// the supervisor saw h2's instances unready. Needs root on Linux and the ip program: skipped
// loudly otherwise, failed under CI.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipUnlessCi } from '@flotilla/store/testing';
import {
  type ChaosDefinition,
  type ChaosReport,
  createNamespaceHosts,
  formatChaosSummary,
  type NamespaceHosts,
  namespaceSupport,
  type Placement,
  parseFaultSchedule,
  runChaos,
  type SupervisorEvent,
  validateSystem,
} from 'flotilla';
import { loadShopFromSource } from '../e2e/shop-harness.js';
import { checkShop } from './checker.js';
import { shopChaos } from './shop-chaos.js';
import { readShopState, type ShopState } from './shop-state.js';
import { chaosServiceEnv } from './test-setup.js';
import type { ShopChaosHistory } from './workload.js';

async function unsupported(): Promise<string | false> {
  const why = await namespaceSupport();
  return skipUnlessCi(why === undefined ? undefined : `network namespace chaos test skipped: ${why}`);
}

const skip = await unsupported();

const applied = (report: ChaosReport, action: string): readonly ChaosReport['nemesis'][number][] =>
  report.nemesis.filter((r) => r.action === action && r.outcome === 'applied');

describe('flotilla chaos on the shop across three hosts (network namespaces)', {
  skip,
  timeout: 240_000,
}, () => {
  let lab: NamespaceHosts | undefined;

  before(async () => {
    lab = await createNamespaceHosts({ count: 3 });
  });
  after(async () => {
    await lab?.remove();
  });

  it('holds every invariant while a host is cut off and reconnected, and the cut is felt', async () => {
    assert.ok(lab !== undefined);
    const [h1, h2, h3] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const on = (host: typeof h1): Placement => ({ netns: host.netns, host: host.address });
    const placement: Readonly<Record<string, Placement>> = {
      order: on(h1),
      catalog: on(h1),
      payment: on(h2),
      inventory: on(h2),
      shipping: on(h3),
      notification: on(h3),
      legacy: { host: lab.gateway },
    };
    const shop = await loadShopFromSource();
    const system = validateSystem(
      {
        ...shop.definition,
        services: shop.definition.services.map((s) => ({ ...s, ...placement[s.name] })),
      },
      { baseDir: shop.baseDir, ...(shop.file === undefined ? {} : { file: shop.file }) },
    );
    assert.deepEqual(
      system.plan().services.map((s) => [s.name, s.instances[0]?.netns ?? '-']),
      system.plan().services.map((s) => [s.name, placement[s.name]?.netns ?? '-']),
    );

    // The shop's own checker, keeping the state it read last for the assertions below.
    let state: ShopState | undefined;
    const chaos: ChaosDefinition<ShopChaosHistory> = {
      ...shopChaos,
      check: async ({ history, urls, secrets, signal }) => {
        state = await readShopState(urls, secrets.FLOTILLA_SERVICE_KEY as string, signal);
        return checkShop(state, history);
      },
    };
    const events: SupervisorEvent[] = [];
    const output: string[] = [];
    const report = await runChaos(system, chaos, {
      durationMs: 15_000,
      quiesceMs: 60_000,
      seed: 1,
      concurrency: 4,
      // The cut outlasts the supervisor's 3 s probe timeout by far: on a loaded machine that
      // timeout can fire late, and a probe sent during a 5 s cut was then (it seems) retransmitted
      // and answered after the reconnect, so no instance went unready in one CI run.
      faults: parseFaultSchedule(`partition:${h2.netns}@every=5s,jitter=1s,for=8s`),
      freePorts: true,
      env: chaosServiceEnv(),
      write: (chunk) => output.push(chunk),
      onEvent: (event) => events.push(event),
    });
    const summary = `${formatChaosSummary(report, false)}\n--- output ---\n${output.join('').split('\n').slice(-60).join('\n')}`;
    assert.ok(report.passed, summary);
    assert.deepEqual(
      report.check.invariants.map((i) => [i.name, i.violations.length]),
      [
        ['orders-settled', 0],
        ['money-and-goods', 0],
        ['stock-conserved', 0],
        ['no-duplicate-effects', 0],
        ['nothing-stuck', 0],
      ],
    );
    // h2 was cut off and reconnected, as often as it was cut.
    const cuts = applied(report, 'cut');
    assert.ok(cuts.length >= 1, summary);
    assert.ok(
      cuts.every((c) => c.target === h2.netns),
      JSON.stringify(report.nemesis),
    );
    assert.equal(applied(report, 'reconnect').length, cuts.length, JSON.stringify(report.nemesis));
    // The cut was felt: the supervisor, probing from its own namespace, saw h2's instances unready.
    const unready = events.filter(
      (e) => e.type === 'state' && e.state === 'unready' && ['payment', 'inventory'].includes(e.service),
    );
    assert.ok(unready.length >= 1, `no instance of h2 went unready\n${summary}`);
    assert.ok((report.workload.outcomes.accepted ?? 0) >= 10, summary);
    // Orders taken on h1 were paid on h2 and shipped and notified on h3: the calls crossed the
    // bridge and the events crossed the namespaces through the shared event log.
    assert.ok(state !== undefined);
    const confirmed = state.orders.filter((o) => o.status === 'CONFIRMED');
    assert.ok(confirmed.length >= 5, summary);
    const shipped = new Set(state.shipments.map((s) => s.orderId));
    assert.ok(
      confirmed.every((o) => shipped.has(o.id)),
      summary,
    );
    const notified = new Set(state.notifications.map((n) => n.orderId));
    assert.ok(
      confirmed.some((o) => notified.has(o.id)),
      summary,
    );
  });
});
