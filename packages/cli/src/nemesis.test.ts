import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { parseFaultSchedule, seededRandom } from './chaos-schedule.js';
import { ControlCommandError } from './errors.js';
import { healSystem, runNemesis } from './nemesis.js';
import type { InstanceState, InstanceStatus } from './supervisor-events.js';
import type { ServiceAction } from './system-control.js';

/** A fake supervisor: instances whose state follows the actions, and a log of the actions. */
function fakeControl(instances: readonly [string, number][]) {
  const states = new Map<string, InstanceState>(instances.map(([s, i]) => [`${s}[${i}]`, 'ready']));
  const actions: string[] = [];
  const status = (): InstanceStatus[] =>
    instances.map(([service, instance]) => ({
      service,
      instance,
      port: 1,
      url: 'http://127.0.0.1:1',
      pid: 1,
      state: states.get(`${service}[${instance}]`) as InstanceState,
      restarts: 0,
      uptimeMs: 0,
      critical: true,
      lastExit: null,
      gaveUp: false,
    }));
  const act = async (action: ServiceAction, service: string, options: { instance?: number } = {}) => {
    const key = `${service}[${options.instance}]`;
    const next: Partial<Record<ServiceAction, InstanceState>> = {
      kill: 'ready',
      freeze: 'frozen',
      thaw: 'ready',
      stop: 'stopped',
      start: 'ready',
    };
    if (action === 'thaw' && states.get(key) !== 'frozen')
      throw new ControlCommandError(`${key} is not frozen`, 'not-frozen');
    actions.push(`${action} ${key}`);
    states.set(key, next[action] as InstanceState);
    return status().filter((s) => `${s.service}[${s.instance}]` === key);
  };
  return { status, act, actions, states };
}

describe('runNemesis', () => {
  it('injects each fault on its own timeline and ends a freeze after `for`', async () => {
    const clock = manualClock();
    const control = fakeControl([
      ['payment', 0],
      ['inventory', 0],
    ]);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule(
        'kill:payment@every=1s,jitter=0ms,freeze:inventory@every=3s,jitter=0ms,for=500ms',
      ),
      control,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(3_000);
    // Two timers fall due at 3 s: their order between them is not part of the contract.
    assert.deepEqual(control.actions.toSorted(), [
      'freeze inventory[0]',
      'kill payment[0]',
      'kill payment[0]',
      'kill payment[0]',
    ]);
    assert.equal(control.states.get('inventory[0]'), 'frozen');
    await clock.advance(500);
    assert.equal(control.states.get('inventory[0]'), 'ready');
    stop.abort();
    const records = await done;
    assert.deepEqual(
      records
        .map((r) => [r.atMs, r.action, r.target, r.outcome])
        .sort((a, b) => String(a).localeCompare(String(b))),
      [
        [1000, 'kill', 'payment[0]', 'applied'],
        [2000, 'kill', 'payment[0]', 'applied'],
        [3000, 'freeze', 'inventory[0]', 'applied'],
        [3000, 'kill', 'payment[0]', 'applied'],
        [3500, 'thaw', 'inventory[0]', 'applied'],
      ],
    );
  });

  it('thaws a frozen instance at once when it is told to stop', async () => {
    const clock = manualClock();
    const control = fakeControl([
      ['order', 0],
      ['order', 1],
    ]);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('freeze:order[1]@every=1s,jitter=0ms,for=1m'),
      control,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    assert.equal(control.states.get('order[1]'), 'frozen');
    stop.abort();
    await done;
    assert.deepEqual(control.actions, ['freeze order[1]', 'thaw order[1]']);
  });

  it('picks the same random targets and times for the same seed', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const clock = manualClock();
      const control = fakeControl([
        ['a', 0],
        ['b', 0],
        ['c', 0],
        ['c', 1],
      ]);
      const stop = new AbortController();
      const done = runNemesis({
        faults: parseFaultSchedule('kill:random@every=1s'),
        control,
        random: seededRandom(seed),
        clock,
        signal: stop.signal,
      });
      await clock.advance(20_000);
      stop.abort();
      return (await done).map((r) => `${r.atMs} ${r.target}`);
    };
    const first = await run(42);
    assert.ok(first.length >= 13, first.join('\n'));
    assert.deepEqual(await run(42), first);
    assert.notDeepEqual(await run(43), first);
  });

  it('records a fault as skipped when no instance is running', async () => {
    const clock = manualClock();
    const control = fakeControl([['payment', 0]]);
    control.states.set('payment[0]', 'crashed');
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('kill:payment@every=1s,jitter=0ms'),
      control,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    stop.abort();
    assert.deepEqual(
      (await done).map((r) => [r.action, r.target, r.outcome, r.detail]),
      [['kill', '-', 'skipped', 'no running instance fits the target']],
    );
  });
});

/** A fake set of proxies: a log of what the nemesis asked of them. */
function fakeNetwork(services: readonly string[]) {
  const calls: string[] = [];
  return {
    calls,
    network: {
      services,
      set: (service: string, instance: number | undefined, faults: object) => {
        calls.push(
          `set ${service}${instance === undefined ? '' : `[${instance}]`} ${JSON.stringify(faults)}`,
        );
      },
      resetConnections: (service: string) => {
        calls.push(`reset ${service}`);
        return 3;
      },
    },
  };
}

describe('runNemesis with network faults', () => {
  it('applies a windowed fault to the proxies for `for`, then clears what it set', async () => {
    const clock = manualClock();
    const { calls, network } = fakeNetwork(['payment', 'inventory']);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('latency:payment=200ms±100ms@every=1s,jitter=0ms,for=500ms'),
      control: fakeControl([]),
      network,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    assert.deepEqual(calls, ['set payment {"latencyMs":200,"jitterMs":100}']);
    await clock.advance(500);
    assert.deepEqual(calls.slice(1), ['set payment {"latencyMs":0,"jitterMs":0}']);
    stop.abort();
    assert.deepEqual(
      (await done).map((r) => [r.atMs, r.action, r.target, r.outcome]),
      [
        [1000, 'latency', 'payment', 'applied'],
        [1500, 'clear', 'payment', 'applied'],
      ],
    );
  });

  it('holds a whole-run fault from the start and clears it when told to stop', async () => {
    const clock = manualClock();
    const { calls, network } = fakeNetwork(['inventory']);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('reset:inventory[1]@p=0.05'),
      control: fakeControl([]),
      network,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(60_000);
    assert.deepEqual(calls, ['set inventory[1] {"resetProbability":0.05}']);
    stop.abort();
    await done;
    assert.deepEqual(calls.slice(1), ['set inventory[1] {"resetProbability":0}']);
  });

  it('resets the current connections on every tick of a reset without p', async () => {
    const clock = manualClock();
    const { calls, network } = fakeNetwork(['order']);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('reset:order@every=1s,jitter=0ms'),
      control: fakeControl([]),
      network,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(2_000);
    stop.abort();
    assert.deepEqual(
      (await done).map((r) => [r.action, r.target, r.detail]),
      [
        ['reset', 'order', '3 connections'],
        ['reset', 'order', '3 connections'],
      ],
    );
    assert.deepEqual(calls, ['reset order', 'reset order']);
  });

  it('refuses network faults without proxies', async () => {
    await assert.rejects(
      runNemesis({
        faults: parseFaultSchedule('blackhole:order@every=1s,for=1s'),
        control: fakeControl([]),
        random: seededRandom(1),
        signal: new AbortController().signal,
      }),
      /network faults need the fault proxies/,
    );
  });
});

/** A fake infrastructure: services with databases, a NATS server that stops and starts, a log. */
function fakeInfra(databaseServices: readonly string[], options: { failKills?: boolean } = {}) {
  const calls: string[] = [];
  let running = true;
  return {
    calls,
    infra: {
      databaseServices,
      killConnections: async (service: string) => {
        calls.push(`pg-kill ${service}`);
        if (options.failKills === true) throw new Error('connection refused');
        return `2 connections to 127.0.0.1:5432/${service}`;
      },
      nats: {
        get running() {
          return running;
        },
        stop: async () => {
          calls.push('nats stop');
          const was = running;
          running = false;
          return was;
        },
        start: async () => {
          calls.push('nats start');
          if (running) return undefined;
          running = true;
          return 120;
        },
      },
    },
  };
}

describe('runNemesis with infrastructure faults', () => {
  it('terminates the connections of the named service, and of random services with a database', async () => {
    const clock = manualClock();
    const { calls, infra } = fakeInfra(['order', 'payment', 'inventory']);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('pg-kill:order@every=1s,jitter=0ms,pg-kill:random@every=1500ms,jitter=0ms'),
      control: fakeControl([]),
      infra,
      random: seededRandom(7),
      clock,
      signal: stop.signal,
    });
    await clock.advance(3_000);
    stop.abort();
    const records = await done;
    assert.deepEqual(
      records.filter((r) => r.fault === 'pg-kill:order@every=1s,jitter=0ms').map((r) => [r.atMs, r.target]),
      [
        [1000, 'order'],
        [2000, 'order'],
        [3000, 'order'],
      ],
    );
    const random = records.filter((r) => r.fault.startsWith('pg-kill:random'));
    assert.deepEqual(
      random.map((r) => r.atMs),
      [1500, 3000],
    );
    for (const r of records) {
      assert.equal(r.action, 'pg-kill');
      assert.equal(r.outcome, 'applied');
      assert.ok(['order', 'payment', 'inventory'].includes(r.target), r.target);
      assert.equal(r.detail, `2 connections to 127.0.0.1:5432/${r.target}`);
    }
    assert.equal(calls.length, 5);
  });

  it('records a connection kill as skipped without a fitting database, and as failed when it fails', async () => {
    const clock = manualClock();
    const stop = new AbortController();
    const skipped = runNemesis({
      faults: parseFaultSchedule('pg-kill:gateway@every=1s,jitter=0ms'),
      control: fakeControl([]),
      infra: fakeInfra(['order']).infra,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    const failing = runNemesis({
      faults: parseFaultSchedule('pg-kill:order@every=1s,jitter=0ms'),
      control: fakeControl([]),
      infra: fakeInfra(['order'], { failKills: true }).infra,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    stop.abort();
    assert.deepEqual(
      [...(await skipped), ...(await failing)].map((r) => [r.action, r.target, r.outcome, r.detail]),
      [
        ['pg-kill', '-', 'skipped', 'no service with a PostgreSQL database fits the target'],
        ['pg-kill', 'order', 'failed', 'connection refused'],
      ],
    );
  });

  it('stops the NATS server for `for`, starts it again, and starts it at once when told to stop', async () => {
    const clock = manualClock();
    const { calls, infra } = fakeInfra([]);
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule('nats-restart@every=1s,jitter=0ms,for=500ms'),
      control: fakeControl([]),
      infra,
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    assert.deepEqual(calls, ['nats stop']);
    assert.equal(infra.nats.running, false);
    await clock.advance(500);
    assert.deepEqual(calls, ['nats stop', 'nats start']);
    assert.equal(infra.nats.running, true);
    // The next stop comes 1 s after the start; the run ends during its downtime.
    await clock.advance(1_000);
    assert.equal(infra.nats.running, false);
    stop.abort();
    const records = await done;
    assert.equal(infra.nats.running, true);
    assert.deepEqual(
      records.map((r) => [r.atMs, r.action, r.target, r.outcome, r.detail]),
      [
        [1000, 'nats-stop', 'nats', 'applied', undefined],
        [1500, 'nats-start', 'nats', 'applied', 'accepting clients after 120 ms'],
        [2500, 'nats-stop', 'nats', 'applied', undefined],
        [2500, 'nats-start', 'nats', 'applied', 'accepting clients after 120 ms'],
      ],
    );
  });

  it('cuts a namespace off for `for` and reconnects it, at once when told to stop; skips one already cut', async () => {
    const clock = manualClock();
    const calls: string[] = [];
    const cut = new Set<string>();
    const partitions = {
      namespaces: ['h1', 'h2'],
      isCut: (netns: string) => cut.has(netns),
      cut: async (netns: string) => {
        calls.push(`cut ${netns}`);
        if (netns === 'h1') throw new Error('ip -n h1 link set dev h1n down failed: no such device');
        cut.add(netns);
        return `${netns}n down`;
      },
      reconnect: async (netns: string) => {
        calls.push(`reconnect ${netns}`);
        cut.delete(netns);
        return `${netns}n up`;
      },
    };
    const stop = new AbortController();
    const done = runNemesis({
      faults: parseFaultSchedule(
        'partition:h2@every=1s,jitter=0ms,for=800ms,partition:h1@every=1200ms,jitter=0ms,for=1s',
      ),
      control: fakeControl([]),
      infra: { databaseServices: [], killConnections: async () => '', partitions },
      random: seededRandom(1),
      clock,
      signal: stop.signal,
    });
    await clock.advance(1_000);
    assert.deepEqual([...cut], ['h2']);
    await clock.advance(800);
    assert.deepEqual([...cut], []);
    // The next cut of h2 comes 1 s after its reconnection; the run ends during it.
    await clock.advance(1_000);
    assert.deepEqual([...cut], ['h2']);
    stop.abort();
    const records = await done;
    assert.deepEqual([...cut], []);
    assert.deepEqual(
      records.map((r) => [r.atMs, r.action, r.target, r.outcome, r.detail]),
      [
        [1000, 'cut', 'h2', 'applied', 'h2n down'],
        [1200, 'cut', 'h1', 'failed', 'ip -n h1 link set dev h1n down failed: no such device'],
        [1800, 'reconnect', 'h2', 'applied', 'h2n up'],
        [2400, 'cut', 'h1', 'failed', 'ip -n h1 link set dev h1n down failed: no such device'],
        [2800, 'cut', 'h2', 'applied', 'h2n down'],
        [2800, 'reconnect', 'h2', 'applied', 'h2n up'],
      ],
    );
    // A namespace already cut off is skipped, not cut twice.
    cut.add('h2');
    const again = new AbortController();
    const skipped = runNemesis({
      faults: parseFaultSchedule('partition:h2@every=1s,jitter=0ms,for=1s'),
      control: fakeControl([]),
      infra: { databaseServices: [], killConnections: async () => '', partitions },
      random: seededRandom(1),
      clock,
      signal: again.signal,
    });
    await clock.advance(1_000);
    again.abort();
    assert.deepEqual(
      (await skipped).map((r) => [r.action, r.target, r.outcome]),
      [['cut', 'h2', 'skipped']],
    );
    await assert.rejects(
      runNemesis({
        faults: parseFaultSchedule('partition:h2@every=1s,for=1s'),
        control: fakeControl([]),
        infra: { databaseServices: [], killConnections: async () => '' },
        random: seededRandom(1),
        signal: new AbortController().signal,
      }),
      /partition needs instances in network namespaces/,
    );
  });

  it('refuses infrastructure faults without the infrastructure, and NATS restarts without its own server', async () => {
    await assert.rejects(
      runNemesis({
        faults: parseFaultSchedule('pg-kill:order@every=1s'),
        control: fakeControl([]),
        random: seededRandom(1),
        signal: new AbortController().signal,
      }),
      /pg-kill needs the system's infrastructure/,
    );
    const { nats: _nats, ...withoutNats } = fakeInfra(['order']).infra;
    await assert.rejects(
      runNemesis({
        faults: parseFaultSchedule('nats-restart@every=1s'),
        control: fakeControl([]),
        infra: withoutNats,
        random: seededRandom(1),
        signal: new AbortController().signal,
      }),
      /nats-restart needs a NATS server the run started itself/,
    );
  });
});

describe('healSystem', () => {
  it('thaws frozen and starts stopped instances, then reports none left', async () => {
    const control = fakeControl([
      ['order', 0],
      ['payment', 0],
    ]);
    control.states.set('order[0]', 'frozen');
    control.states.set('payment[0]', 'stopped');
    const notReady = await healSystem(control, { timeoutMs: 5_000 });
    assert.deepEqual(notReady, []);
    assert.deepEqual(control.actions.sort(), ['start payment[0]', 'thaw order[0]']);
  });
});
