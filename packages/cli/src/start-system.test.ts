import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { isSystemRunningError, isSystemStartError, SystemStartError } from './errors.js';
import {
  fixtureEntry,
  fixtureSystem,
  freePorts,
  nextEvent,
  processExists,
  temporaryDirectory,
  testScope,
  until,
} from './fixtures/harness.js';
import { isPortFree } from './port-check.js';
import { type RunningSystem, startSystem } from './start-system.js';
import type { SupervisorEvent } from './supervisor-events.js';
import type { SystemDefinition } from './system-definition.js';

const quiet = { write: () => {}, colour: false, pretty: false, probeIntervalMs: 200 } as const;

describe('startSystem: the fixture system', () => {
  const tmp = temporaryDirectory();
  const events: SupervisorEvent[] = [];
  const output: string[] = [];
  let running: RunningSystem;
  let definition: SystemDefinition;
  let ports: readonly number[];

  before(async () => {
    ({ definition, ports } = await fixtureSystem(join(tmp.dir, 'data')));
    running = await startSystem(definition, {
      ...quiet,
      write: (chunk) => output.push(chunk),
    });
    running.control.onEvent((e) => events.push(e));
  });
  after(async () => {
    await running?.stop();
    tmp.remove();
  });

  it('starts every instance and reports them ready, in dependency order', () => {
    assert.deepEqual(
      running.services.map((s) => [s.service, s.instance, s.state]),
      [
        ['catalog', 0, 'ready'],
        ['pricing', 0, 'ready'],
        ['storefront', 0, 'ready'],
        ['storefront', 1, 'ready'],
      ],
    );
    const text = output.join('');
    const startOf = (name: string): number => text.indexOf(`starting ${name}`);
    assert.ok(startOf('catalog') >= 0 && startOf('catalog') < startOf('pricing'), text);
    assert.ok(startOf('pricing') < startOf('storefront'), text);
    for (const s of running.services) assert.ok(s.pid !== null && processExists(s.pid));
  });

  it('writes a topology file listing every instance', () => {
    const topology = JSON.parse(readFileSync(running.topologyFile, 'utf8')) as unknown;
    const [catalog, pricing, front0, front1] = ports;
    assert.deepEqual(topology, {
      services: {
        catalog: { urls: [`http://127.0.0.1:${catalog}`] },
        pricing: { urls: [`http://127.0.0.1:${pricing}`] },
        storefront: { urls: [`http://127.0.0.1:${front0}`, `http://127.0.0.1:${front1}`] },
      },
    });
  });

  it('lets services call each other through the topology, each instance with its own variables', async () => {
    for (const instance of [0, 1]) {
      const res = await fetch(`http://127.0.0.1:${ports[2 + instance]}/quote/2`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        id: '2',
        name: 'mug',
        priceCents: 300,
        instance,
        greeting: `hello from storefront[${instance}]`,
      });
    }
  });

  it('prefixes every service line with its padded name', () => {
    const lines = output.join('').split('\n');
    assert.ok(
      lines.some((l) => l.startsWith('storefront[1] | ')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => l.startsWith('catalog       | ')));
    assert.ok(lines.some((l) => l.startsWith('flotilla      | starting catalog')));
  });

  it('generates the secrets once and passes them to every service', () => {
    const saved = JSON.parse(readFileSync(join(running.dataDir, 'secrets.json'), 'utf8')) as {
      secrets: Record<string, string>;
    };
    assert.deepEqual(Object.keys(running.secrets), [
      'FLOTILLA_SERVICE_KEY',
      'FLOTILLA_ADMIN_TOKEN',
      'FIXTURE_JWT_SECRET',
    ]);
    assert.deepEqual(saved.secrets, running.secrets);
    assert.match(running.secrets.FIXTURE_JWT_SECRET!, /^[0-9a-f]{64}$/);
  });

  it('restarts a killed instance', async () => {
    const before = running.services.find((s) => s.service === 'pricing')!;
    const ready = nextEvent(
      running.control,
      (e) => e.type === 'state' && e.service === 'pricing' && e.state === 'ready',
    );
    const [killed] = await running.control.kill('pricing');
    assert.equal(killed?.pid, before.pid);
    await ready;
    const afterRestart = running.services.find((s) => s.service === 'pricing')!;
    assert.notEqual(afterRestart.pid, before.pid);
    assert.equal(afterRestart.restarts, before.restarts + 1);
    assert.ok(!processExists(before.pid!));
    const states = events.flatMap((e) => (e.type === 'state' && e.service === 'pricing' ? [e.state] : []));
    // A probe can see the dead process before its exit is reported: `unready` may come first.
    assert.deepEqual(states.slice(states.indexOf('crashed')), ['crashed', 'starting', 'ready']);
  });

  it('keeps an operator-stopped instance stopped until it is started', async () => {
    const [stopped] = await running.control.stop('storefront', { instance: 1 });
    assert.equal(stopped?.state, 'stopped');
    assert.equal(stopped?.pid, null);
    assert.equal(
      running.services.find((s) => s.service === 'storefront' && s.instance === 0)?.state,
      'ready',
    );
    const [started] = await running.control.start('storefront', { instance: 1 });
    assert.equal(started?.state, 'ready');
  });

  it('freezes an instance with SIGSTOP and thaws it with SIGCONT', async () => {
    const [frozen] = await running.control.freeze('catalog');
    assert.equal(frozen?.state, 'frozen');
    assert.match(readFileSync(`/proc/${frozen!.pid}/stat`, 'utf8'), /^\d+ \(.*\) T /);
    const [thawed] = await running.control.thaw('catalog');
    assert.equal(thawed?.state, 'ready');
    assert.equal(thawed?.pid, frozen?.pid);
  });

  it('keeps the data and secrets when the system runs again', async () => {
    const secrets = running.secrets;
    const pids = running.services.map((s) => s.pid!);
    await running.stop();
    for (const pid of pids) assert.equal(processExists(pid), false, `pid ${pid} still runs`);
    running = await startSystem(definition, quiet);
    assert.deepEqual(running.secrets, secrets);
  });
});

describe('startSystem: failures', () => {
  it('fails with a message naming a service that never becomes ready, and stops the others', async (t) => {
    const tmp = testScope(t);
    const [catalogPort, stubbornPort] = await freePorts(2);
    const definition: SystemDefinition = {
      name: 'never-ready',
      dataDir: join(tmp.dir, 'data'),
      controlPort: 0,
      readyTimeoutMs: 5_000,
      services: [
        { name: 'catalog', entry: fixtureEntry('catalog.ts'), port: catalogPort! },
        { name: 'stubborn', entry: fixtureEntry('stubborn.ts'), port: stubbornPort!, dependsOn: ['catalog'] },
      ],
    };
    // The ready timeout runs on a manual clock, passed once the service runs and its check fails.
    const clock = manualClock();
    const output: string[] = [];
    const failure = startSystem(definition, { ...quiet, clock, write: (c) => output.push(c) }).then(
      () => assert.fail('startSystem should fail'),
      (e: unknown) => e,
    );
    await until(() => output.join('').includes('waiting for a database that never comes'));
    await until(async () => {
      const res = await fetch(`http://127.0.0.1:${stubbornPort}/health/ready`).catch(() => undefined);
      return res !== undefined && ((await res.json()) as { status: string }).status === 'not_ready';
    });
    await clock.advance(5_000);
    const err = await failure;
    assert.ok(err instanceof SystemStartError, String(err));
    assert.equal(err.service, 'stubborn');
    assert.equal(err.reason, 'not-ready');
    assert.match(err.message, /service "stubborn" did not become ready within 5000 ms/);
    assert.match(
      err.message,
      /its \/health\/ready: 503 not_ready \(failing: database: connection refused by the fixture\)/,
    );
    assert.match(err.message, /Last lines of stubborn:\n.*waiting for a database that never comes/);
    assert.ok(err.lastLines.length > 0);
    for (const port of [catalogPort!, stubbornPort!])
      assert.equal(await isPortFree(port), true, `port ${port} still taken`);
    // The lock is released: the same data directory can be used again at once.
    const again = await fixtureSystem(join(tmp.dir, 'data'));
    const running = tmp.track(await startSystem(again.definition, quiet));
    assert.equal(running.services[0]?.state, 'ready');
  });

  it('stops what it started when start-up is cancelled', async (t) => {
    const tmp = testScope(t);
    const { definition, ports } = await fixtureSystem(join(tmp.dir, 'data'));
    const controller = new AbortController();
    const err = await startSystem(definition, {
      ...quiet,
      signal: controller.signal,
      write: (chunk) => {
        if (chunk.includes('starting pricing')) controller.abort();
      },
    }).then(
      () => assert.fail('startSystem should fail'),
      (e: unknown) => e,
    );
    assert.ok(isSystemStartError(err), String(err));
    assert.equal(err.reason, 'aborted');
    assert.equal(err.message, 'start-up of fixture was cancelled');
    for (const port of ports) assert.equal(await isPortFree(port), true, `port ${port} still taken`);
  });

  it('reports a service that crashes repeatedly at start instead of restarting it forever', async (t) => {
    const tmp = testScope(t);
    const { definition } = await fixtureSystem(join(tmp.dir, 'data'), {
      services: [{ name: 'broken', entry: fixtureEntry('crash-at-start.ts') }],
    });
    const err = await startSystem(definition, quiet).then(
      () => assert.fail('startSystem should fail'),
      (e: unknown) => e,
    );
    assert.ok(isSystemStartError(err), String(err));
    assert.equal(err.service, 'broken');
    assert.equal(err.reason, 'crashed');
    assert.match(err.message, /fatal: cannot read the fixture configuration/);
  });

  it('starts without a non-critical service that crashes, and reports it', async (t) => {
    const tmp = testScope(t);
    const { definition } = await fixtureSystem(join(tmp.dir, 'data'), {
      services: [{ name: 'broken', entry: fixtureEntry('crash-at-start.ts'), critical: false }],
    });
    const running = tmp.track(await startSystem(definition, quiet));
    const broken = running.services.find((s) => s.service === 'broken');
    assert.equal(broken?.state, 'crashed');
    assert.equal(broken?.gaveUp, true);
    assert.equal(broken?.lastExit?.code, 3);
    assert.match(running.warnings[0] ?? '', /service "broken" crashed repeatedly/);
  });

  it('refuses to start while another supervisor holds the data directory', async (t) => {
    const tmp = testScope(t);
    const { definition } = await fixtureSystem(join(tmp.dir, 'data'));
    tmp.track(await startSystem(definition, quiet));
    const err = await startSystem((await fixtureSystem(join(tmp.dir, 'data'))).definition, quiet).then(
      () => assert.fail('second startSystem should fail'),
      (e: unknown) => e,
    );
    assert.ok(isSystemRunningError(err), String(err));
    assert.equal(err.pid, process.pid);
  });

  it('names a service whose port is taken', async (t) => {
    const tmp = testScope(t);
    const { definition, ports } = await fixtureSystem(join(tmp.dir, 'data'));
    const blocker = createServer().listen(ports[1], '127.0.0.1');
    t.after(() => blocker.close());
    await new Promise((resolve) => blocker.once('listening', resolve));
    const err = await startSystem(definition, quiet).then(
      () => assert.fail('startSystem should fail'),
      (e: unknown) => e,
    );
    assert.ok(isSystemStartError(err));
    assert.equal(err.reason, 'port-in-use');
    assert.match(err.message, new RegExp(`port ${ports[1]} of service "pricing" is already in use`));
  });
});

describe('startSystem: restarts and stops', () => {
  it('waits the backoff delay, doubling, before restarting a crashed instance', async (t) => {
    const tmp = testScope(t);
    const clock = manualClock();
    const { definition } = await fixtureSystem(join(tmp.dir, 'data'), {
      restart: { initialDelayMs: 1_000, maxDelayMs: 60_000 },
    });
    const running = tmp.track(await startSystem(definition, { ...quiet, clock }));

    for (const expectedDelayMs of [1_000, 2_000]) {
      const scheduled = nextEvent(running.control, (e) => e.type === 'restart-scheduled');
      await running.control.kill('catalog');
      const event = await scheduled;
      assert.equal(event.type === 'restart-scheduled' && event.delayMs, expectedDelayMs);
      await clock.advance(expectedDelayMs - 1);
      assert.equal(running.services[0]?.state, 'crashed', 'not restarted before the delay');
      assert.equal(running.services[0]?.pid, null);
      const ready = nextEvent(
        running.control,
        (e) => e.type === 'state' && e.service === 'catalog' && e.state === 'ready',
      );
      await clock.advance(1);
      await ready;
    }
    assert.equal(running.services[0]?.restarts, 2);
  });

  it('sends SIGKILL to a service that ignores SIGTERM once the grace period is over', async (t) => {
    const tmp = testScope(t);
    const { definition } = await fixtureSystem(join(tmp.dir, 'data'), {
      stopTimeoutMs: 300,
      services: [{ name: 'stubborn-js', entry: fixtureEntry('ignores-sigterm.mjs') }],
    });
    const output: string[] = [];
    const running = tmp.track(await startSystem(definition, { ...quiet, write: (c) => output.push(c) }));
    const pids = running.services.map((s) => s.pid!);
    const exits: Extract<SupervisorEvent, { type: 'exit' }>[] = [];
    running.control.onEvent((e) => {
      if (e.type === 'exit') exits.push(e);
    });
    await running.stop();
    assert.match(output.join(''), /stubborn-js did not exit within 300 ms of SIGTERM; sending SIGKILL/);
    assert.match(output.join(''), /SIGTERM received and ignored/);
    const stubborn = exits.find((e) => e.service === 'stubborn-js');
    assert.equal(stubborn?.signal, 'SIGKILL');
    assert.ok(exits.every((e) => e.expected));
    for (const pid of pids) assert.equal(processExists(pid), false);
  });

  it('stops services in reverse dependency order', async (t) => {
    const tmp = testScope(t);
    const running = tmp.track(
      await startSystem((await fixtureSystem(join(tmp.dir, 'data'))).definition, quiet),
    );
    const order: string[] = [];
    running.control.onEvent((e) => {
      if (e.type === 'exit') order.push(e.service);
    });
    await running.stop();
    assert.deepEqual(order, ['storefront', 'storefront', 'pricing', 'catalog']);
  });
});
