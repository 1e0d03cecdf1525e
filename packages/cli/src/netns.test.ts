// The fixture system spread over real network namespaces on a bridge (created and removed here,
// on a private 10.231.x.0/24): catalog on one host, pricing on another, the storefront beside the
// supervisor. Needs root on Linux and the ip program: skipped loudly otherwise, failed under CI.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipUnlessCi } from '@flotilla/store/testing';
import { isSystemDefinitionError, type SystemDefinitionError } from './errors.js';
import { fixtureSystem, nextEvent, temporaryDirectory } from './fixtures/harness.js';
import {
  createNamespaceHosts,
  findIp,
  type NamespaceHosts,
  namespacePartitions,
  namespaceSupport,
} from './netns.js';
import { type RunningSystem, startSystem } from './start-system.js';
import type { SupervisorEvent } from './supervisor-events.js';
import type { SystemDefinition } from './system-definition.js';

async function unsupported(): Promise<string | false> {
  const why = await namespaceSupport();
  return skipUnlessCi(why === undefined ? undefined : `network namespace tests skipped: ${why}`);
}

const skip = await unsupported();
const quiet = { write: () => {}, colour: false, pretty: false, probeIntervalMs: 200 } as const;

describe('several hosts on one machine (network namespaces)', { skip, timeout: 120_000 }, () => {
  const tmp = temporaryDirectory();
  let lab: NamespaceHosts;
  let definition: SystemDefinition;
  let running: RunningSystem | undefined;
  const events: SupervisorEvent[] = [];

  before(async () => {
    lab = await createNamespaceHosts({ count: 2 });
    const [h1, h2] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const fixture = await fixtureSystem(join(tmp.dir, 'data'));
    definition = {
      ...fixture.definition,
      services: fixture.definition.services.map((s) =>
        s.name === 'catalog'
          ? { ...s, netns: h1.netns, host: h1.address }
          : s.name === 'pricing'
            ? { ...s, netns: h2.netns, host: h2.address }
            : s,
      ),
    };
  });
  after(async () => {
    try {
      await running?.stop();
    } finally {
      await lab?.remove();
      tmp.remove();
    }
  });

  it('refuses to start an instance in a namespace that does not exist, or on an address it does not have', async () => {
    const [h1, h2] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const missing = `${h1.netns}x`;
    const wrongNamespace = {
      ...definition,
      services: definition.services.map((s) => (s.name === 'catalog' ? { ...s, netns: missing } : s)),
    };
    const wrongAddress = {
      ...definition,
      services: definition.services.map((s) => (s.name === 'catalog' ? { ...s, host: h2.address } : s)),
    };
    for (const [def, path, message] of [
      [wrongNamespace, 'services[0].netns', `network namespace "${missing}" does not exist`],
      [
        wrongAddress,
        'services[0].host',
        `catalog would bind ${h2.address}, which is not an address in network namespace "${h1.netns}"`,
      ],
    ] as const)
      await assert.rejects(startSystem(def, quiet), (err: SystemDefinitionError) => {
        assert.ok(isSystemDefinitionError(err), String(err));
        assert.equal(err.problems[0]?.path, path);
        assert.ok(err.problems[0]?.message.startsWith(message), err.message);
        return true;
      });
  });

  it('runs each instance in its namespace on its host, reached across the bridge, through fault proxies too', async () => {
    const [h1, h2] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    running = await startSystem(definition, { ...quiet, faultProxies: true });
    running.control.onEvent((e) => events.push(e));
    const byName = new Map(running.services.map((s) => [`${s.service}[${s.instance}]`, s]));
    const catalog = byName.get('catalog[0]');
    const pricing = byName.get('pricing[0]');
    assert.match(catalog?.url ?? '', new RegExp(`^http://${h1.address.replaceAll('.', '\\.')}:\\d+$`));
    assert.match(pricing?.url ?? '', new RegExp(`^http://${h2.address.replaceAll('.', '\\.')}:\\d+$`));
    assert.match(byName.get('storefront[0]')?.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    // The process is in the namespace: its network namespace is the one `ip netns` names.
    const inode = (path: string): number => statSync(path).ino;
    assert.equal(inode(`/proc/${catalog?.pid}/ns/net`), inode(`/run/netns/${h1.netns}`));
    assert.equal(inode(`/proc/${pricing?.pid}/ns/net`), inode(`/run/netns/${h2.netns}`));
    assert.notEqual(
      inode(`/proc/${byName.get('storefront[0]')?.pid}/ns/net`),
      inode(`/run/netns/${h1.netns}`),
    );
    // It bound the host it was given (FLOTILLA_HOST), and answers there.
    assert.equal((await fetch(`${catalog?.url}/health/ready`)).status, 200);
    // The proxies listen on the bridge's address, which every namespace reaches.
    const topology = JSON.parse(readFileSync(running.topologyFile, 'utf8')) as {
      services: Record<string, { urls: string[] }>;
    };
    for (const { urls } of Object.values(topology.services))
      for (const url of urls) assert.ok(url.startsWith(`http://${lab.gateway}:`), url);
    // storefront (here) -> pricing (h2) -> catalog (h1), each call through a proxy.
    const quote = await fetch(`${byName.get('storefront[1]')?.url}/quote/2`);
    assert.equal(quote.status, 200, await quote.clone().text());
    assert.deepEqual(await quote.json(), {
      id: '2',
      name: 'mug',
      priceCents: 300,
      instance: 1,
      greeting: 'hello from storefront[1]',
    });
  });

  it('sees a host cut off as unready and its callers failing, and ready again once reconnected', async () => {
    assert.ok(running !== undefined, 'the system did not start');
    const [h1] = lab.hosts as [(typeof lab.hosts)[0]];
    const partitions = namespacePartitions(findIp() as string, [h1.netns]);
    const unready = nextEvent(
      running.control,
      (e) => e.type === 'state' && e.service === 'catalog' && e.state === 'unready',
    );
    assert.match(await partitions.cut(h1.netns), new RegExp(`^${lab.hosts[0]?.netns}n down$`));
    try {
      await unready;
      const storefront = running.services.find((s) => s.service === 'storefront');
      const during = await fetch(`${storefront?.url}/quote/3`, { signal: AbortSignal.timeout(40_000) });
      assert.ok(during.status >= 500, `a quote needing the cut host answered ${during.status}`);
    } finally {
      const ready = nextEvent(
        running.control,
        (e) => e.type === 'state' && e.service === 'catalog' && e.state === 'ready',
      );
      await partitions.reconnect(h1.netns);
      await ready;
    }
    const storefront = running.services.find((s) => s.service === 'storefront');
    const res = await fetch(`${storefront?.url}/quote/3`);
    assert.equal(res.status, 200, await res.clone().text());
    // The process itself was never restarted: only its network went away.
    assert.ok(!events.some((e) => e.type === 'exit' && e.service === 'catalog'));
  });
});
