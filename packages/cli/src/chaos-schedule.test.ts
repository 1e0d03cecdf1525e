import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatTarget,
  isChaosScheduleError,
  isInfraFault,
  isNetworkFault,
  parseDuration,
  parseFaultSchedule,
  seededRandom,
} from './chaos-schedule.js';

const SERVICES = ['order', 'payment', 'inventory'];

function errorOf(schedule: string): string {
  try {
    parseFaultSchedule(schedule, SERVICES);
  } catch (err) {
    assert.ok(isChaosScheduleError(err), String(err));
    return err.message;
  }
  assert.fail(`"${schedule}" was accepted`);
}

describe('parseFaultSchedule', () => {
  it('parses kills and freezes, with parameters continuing after commas', () => {
    const faults = parseFaultSchedule(
      'kill:random@every=5s, kill:payment@every=10s,freeze:inventory@every=15s,for=3s,jitter=1s',
      SERVICES,
    );
    assert.deepEqual(
      faults.map(({ text, kind, target, everyMs, jitterMs, forMs }) => ({
        text,
        kind,
        target,
        everyMs,
        jitterMs,
        forMs,
      })),
      [
        {
          text: 'kill:random@every=5s',
          kind: 'kill',
          target: { kind: 'random' },
          everyMs: 5000,
          jitterMs: 2500,
          forMs: 0,
        },
        {
          text: 'kill:payment@every=10s',
          kind: 'kill',
          target: { kind: 'service', service: 'payment' },
          everyMs: 10_000,
          jitterMs: 5000,
          forMs: 0,
        },
        {
          text: 'freeze:inventory@every=15s,for=3s,jitter=1s',
          kind: 'freeze',
          target: { kind: 'service', service: 'inventory' },
          everyMs: 15_000,
          jitterMs: 1000,
          forMs: 3000,
        },
      ],
    );
  });

  it('targets one instance with service[N]', () => {
    const [fault] = parseFaultSchedule('stop:order[1]@every=20s,for=500ms', SERVICES);
    assert.deepEqual(fault?.target, { kind: 'service', service: 'order', instance: 1 });
    assert.equal(fault?.forMs, 500);
  });

  it('names the fault and the problem in every error', () => {
    assert.equal(errorOf(''), 'the fault schedule is empty; e.g. kill:random@every=5s');
    assert.equal(
      errorOf('frezee:order@every=5s'),
      'fault "frezee:order@every=5s": unknown fault "frezee" (faults: kill, freeze, stop, latency, bandwidth, reset, blackhole, errors, nats-restart, pg-kill, partition)',
    );
    assert.equal(
      errorOf('kill:paymnt@every=5s'),
      'fault "kill:paymnt@every=5s": unknown service "paymnt" (services: order, payment, inventory, or random)',
    );
    assert.equal(
      errorOf('kill:order'),
      'fault "kill:order": needs every=<duration>, e.g. kill:order@every=5s',
    );
    assert.equal(
      errorOf('freeze:order@every=5s'),
      'fault "freeze:order@every=5s": needs for=<duration>: how long the process stays frozen',
    );
    assert.equal(
      errorOf('kill:order@every=5 s'),
      'fault "kill:order@every=5 s": every must be a duration like 500ms, 5s or 1m, got "5 s"',
    );
    assert.equal(
      errorOf('kill:order@every=5s,for=1s'),
      'fault "kill:order@every=5s,for=1s": unknown parameter "for" for kill (parameters: every, jitter)',
    );
    assert.equal(
      errorOf('every=5s'),
      '"every=5s" is a parameter without a fault before it; write kind:target@every=5s',
    );
    assert.equal(
      errorOf('kill:order@every=2s,jitter=2s'),
      'fault "kill:order@every=2s,jitter=2s": jitter must be less than every (2000ms), got 2000ms',
    );
  });

  it('parses network faults with their values, windows and whole-run form', () => {
    const faults = parseFaultSchedule(
      'latency:payment=200ms±100ms@every=10s,for=5s,reset:inventory@p=0.05,blackhole:payment@every=20s,for=3s,' +
        'errors:inventory=0.2@every=15s,for=5s,bandwidth:order=10kb,reset:order[1]@every=4s,latency:order=50ms+-10ms',
      SERVICES,
    );
    assert.deepEqual(
      faults.map((f) => ({
        kind: f.kind,
        target: f.target,
        everyMs: f.everyMs,
        forMs: f.forMs,
        proxy: 'proxy' in f ? f.proxy : null,
      })),
      [
        {
          kind: 'latency',
          target: { kind: 'service', service: 'payment' },
          everyMs: 10_000,
          forMs: 5000,
          proxy: { latencyMs: 200, jitterMs: 100 },
        },
        {
          kind: 'reset',
          target: { kind: 'service', service: 'inventory' },
          everyMs: 0,
          forMs: 0,
          proxy: { resetProbability: 0.05 },
        },
        {
          kind: 'blackhole',
          target: { kind: 'service', service: 'payment' },
          everyMs: 20_000,
          forMs: 3000,
          proxy: { blackhole: true },
        },
        {
          kind: 'errors',
          target: { kind: 'service', service: 'inventory' },
          everyMs: 15_000,
          forMs: 5000,
          proxy: { errorRate: 0.2 },
        },
        {
          kind: 'bandwidth',
          target: { kind: 'service', service: 'order' },
          everyMs: 0,
          forMs: 0,
          proxy: { bandwidthBytesPerSecond: 10_000 },
        },
        {
          kind: 'reset',
          target: { kind: 'service', service: 'order', instance: 1 },
          everyMs: 4000,
          forMs: 0,
          proxy: {},
        },
        {
          kind: 'latency',
          target: { kind: 'service', service: 'order' },
          everyMs: 0,
          forMs: 0,
          proxy: { latencyMs: 50, jitterMs: 10 },
        },
      ],
    );
    assert.ok(faults.every(isNetworkFault));
    assert.deepEqual(parseFaultSchedule('reset:payment@every=10s,for=2s', SERVICES)[0], {
      text: 'reset:payment@every=10s,for=2s',
      kind: 'reset',
      target: { kind: 'service', service: 'payment' },
      everyMs: 10_000,
      jitterMs: 5000,
      forMs: 2000,
      proxy: { resetProbability: 1 },
    });
  });

  it('names the network fault and the problem in every error', () => {
    assert.equal(
      errorOf('latency:payment@every=5s,for=1s'),
      'fault "latency:payment@every=5s,for=1s": needs a value: latency:payment=<latency>[±<jitter>], e.g. 200ms±100ms',
    );
    assert.equal(
      errorOf('latency:payment=fast'),
      'fault "latency:payment=fast": latency must be <latency>[±<jitter>], e.g. 200ms±100ms, got "fast"',
    );
    assert.equal(
      errorOf('errors:payment=1.5'),
      'fault "errors:payment=1.5": errors must be <share of new connections> in (0, 1], e.g. 0.2, got "1.5"',
    );
    assert.equal(
      errorOf('bandwidth:order=10kbps'),
      'fault "bandwidth:order=10kbps": bandwidth must be <bytes per second> in b, kb or mb, e.g. 10kb (at least 1b), got "10kbps"',
    );
    assert.equal(
      errorOf('blackhole:order=1@every=5s,for=1s'),
      'fault "blackhole:order=1@every=5s,for=1s": blackhole takes no value, got "=1"',
    );
    assert.equal(
      errorOf('reset:order'),
      'fault "reset:order": needs p=<probability> (new connections reset for the whole run) or every=<duration> (current connections reset)',
    );
    assert.equal(
      errorOf('reset:order@p=0'),
      'fault "reset:order@p=0": p must be a probability in (0, 1], got "0"',
    );
    assert.equal(
      errorOf('reset:order@p=0.5,every=5s'),
      'fault "reset:order@p=0.5,every=5s": p with every needs for=<duration>: how long new connections are reset',
    );
    assert.equal(
      errorOf('blackhole:payment@every=20s'),
      'fault "blackhole:payment@every=20s": needs for=<duration> with every: how long each blackhole lasts',
    );
    assert.equal(
      errorOf('latency:payment=1s@for=2s'),
      'fault "latency:payment=1s@for=2s": for needs every=<duration>; without every the fault holds for the whole run',
    );
    assert.equal(
      errorOf('latency:payment=1s@p=0.5'),
      'fault "latency:payment=1s@p=0.5": unknown parameter "p" for latency (parameters: every, jitter, for)',
    );
  });
});

describe('parseFaultSchedule: infrastructure faults', () => {
  it('parses NATS restarts, with or without downtime, and connection kills of a service or at random', () => {
    const faults = parseFaultSchedule(
      'nats-restart@every=20s,for=3s, nats-restart@every=30s,jitter=1s,pg-kill:order@every=10s,pg-kill:random@every=4s,jitter=500ms,kill:payment@every=5s',
      SERVICES,
    );
    assert.deepEqual(
      faults.map((f) => (isInfraFault(f) ? { ...f } : f.kind)),
      [
        {
          text: 'nats-restart@every=20s,for=3s',
          kind: 'nats-restart',
          target: { kind: 'random' },
          everyMs: 20_000,
          jitterMs: 10_000,
          forMs: 3000,
        },
        {
          text: 'nats-restart@every=30s,jitter=1s',
          kind: 'nats-restart',
          target: { kind: 'random' },
          everyMs: 30_000,
          jitterMs: 1000,
          forMs: 0,
        },
        {
          text: 'pg-kill:order@every=10s',
          kind: 'pg-kill',
          target: { kind: 'service', service: 'order' },
          everyMs: 10_000,
          jitterMs: 5000,
          forMs: 0,
        },
        {
          text: 'pg-kill:random@every=4s,jitter=500ms',
          kind: 'pg-kill',
          target: { kind: 'random' },
          everyMs: 4000,
          jitterMs: 500,
          forMs: 0,
        },
        'kill',
      ],
    );
    assert.deepEqual(
      faults.map((f) => [isInfraFault(f), isNetworkFault(f)]),
      [
        [true, false],
        [true, false],
        [true, false],
        [true, false],
        [false, false],
      ],
    );
  });

  it('names the infrastructure fault and the problem in every error', () => {
    assert.equal(
      errorOf('nats-restart:nats@every=20s'),
      `fault "nats-restart:nats@every=20s": nats-restart takes no target: it restarts the run's own NATS server, e.g. nats-restart@every=20s,for=3s`,
    );
    assert.equal(
      errorOf('nats-restart'),
      'fault "nats-restart": needs every=<duration>, e.g. nats-restart@every=20s',
    );
    assert.equal(
      errorOf('nats-restart@every=20s,for=soon'),
      'fault "nats-restart@every=20s,for=soon": for must be a duration like 500ms, 5s or 1m, got "soon"',
    );
    assert.equal(
      errorOf('nats-restart@every=20s,p=0.5'),
      'fault "nats-restart@every=20s,p=0.5": unknown parameter "p" for nats-restart (parameters: every, jitter, for)',
    );
    assert.equal(
      errorOf('pg-kill@every=10s'),
      'fault "pg-kill@every=10s": needs a target: pg-kill:random@every=10s, or pg-kill:<service>@every=10s',
    );
    assert.equal(
      errorOf('pg-kill:order[1]@every=10s'),
      'fault "pg-kill:order[1]@every=10s": pg-kill acts on a service\'s database, which its instances share: write pg-kill:order, not [1]',
    );
    assert.equal(
      errorOf('pg-kill:ordr@every=10s'),
      'fault "pg-kill:ordr@every=10s": unknown service "ordr" (services: order, payment, inventory, or random)',
    );
    assert.equal(
      errorOf('pg-kill:order@every=10s,for=2s'),
      'fault "pg-kill:order@every=10s,for=2s": unknown parameter "for" for pg-kill (parameters: every, jitter)',
    );
    assert.equal(
      errorOf('pg-kill:order'),
      'fault "pg-kill:order": needs every=<duration>, e.g. pg-kill:order@every=10s',
    );
    assert.equal(
      errorOf('pg-kill:order@every=50ms'),
      'fault "pg-kill:order@every=50ms": every must be at least 100ms, got 50ms',
    );
  });

  it('parses partitions of a named network namespace or one at random, never checked against services', () => {
    const faults = parseFaultSchedule(
      'partition:lab_h2.x@every=10s,for=3s,partition:random@every=20s,jitter=2s,for=1s',
      SERVICES,
    );
    assert.deepEqual(
      faults.map((f) => ({ ...f })),
      [
        {
          text: 'partition:lab_h2.x@every=10s,for=3s',
          kind: 'partition',
          target: { kind: 'netns', netns: 'lab_h2.x' },
          everyMs: 10_000,
          jitterMs: 5000,
          forMs: 3000,
        },
        {
          text: 'partition:random@every=20s,jitter=2s,for=1s',
          kind: 'partition',
          target: { kind: 'random' },
          everyMs: 20_000,
          jitterMs: 2000,
          forMs: 1000,
        },
      ],
    );
    assert.ok(faults.every(isInfraFault));
    assert.equal(formatTarget(faults[0]!.target), 'lab_h2.x');
    assert.equal(
      errorOf('partition@every=10s,for=3s'),
      'fault "partition@every=10s,for=3s": needs a target: partition:<netns>@every=20s,for=3s, or partition:random@every=20s,for=3s',
    );
    assert.equal(
      errorOf('partition:h2@every=10s'),
      'fault "partition:h2@every=10s": needs for=<duration>: how long the namespace stays cut off, e.g. partition:h2@every=20s,for=3s',
    );
    assert.equal(
      errorOf('partition:a/b@every=10s,for=1s'),
      'fault "partition:a/b@every=10s,for=1s": target must be random or a network namespace name, got "a/b"',
    );
  });
});

describe('parseDuration', () => {
  it('reads ms, s and m', () => {
    assert.deepEqual(['250ms', '5s', '1.5s', '2m', '5', 's'].map(parseDuration), [
      250,
      5000,
      1500,
      120_000,
      undefined,
      undefined,
    ]);
  });
});

describe('seededRandom', () => {
  it('repeats its numbers for the same seed and differs for another', () => {
    const draw = (seed: number): number[] => {
      const r = seededRandom(seed);
      return [r(), r(), r()];
    };
    assert.deepEqual(draw(1), draw(1));
    assert.notDeepEqual(draw(1), draw(2));
    assert.ok(draw(7).every((x) => x >= 0 && x < 1));
  });
});
