import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isChaosScheduleError, parseDuration, parseFaultSchedule, seededRandom } from './chaos-schedule.js';

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
      'fault "frezee:order@every=5s": unknown fault "frezee" (faults: kill, freeze, stop)',
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

  it('recognises network faults and says they are not available yet', () => {
    assert.match(
      errorOf('latency:payment=200ms'),
      /network faults .* need the fault-injecting proxy, which is not implemented yet/,
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
