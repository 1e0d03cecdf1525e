import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatChaosSummary, formatFaultRecord } from './chaos-summary.js';
import type { ChaosReport } from './run-chaos.js';

describe('formatFaultRecord', () => {
  it('prints what an applied fault did, and marks healing', () => {
    assert.equal(
      formatFaultRecord(
        {
          atMs: 20_100,
          fault: 'pg-kill:order@every=10s',
          action: 'pg-kill',
          target: 'order',
          outcome: 'applied',
          detail: '4 connections to 127.0.0.1:5432/shop_order',
        },
        false,
      ),
      '  +20.1s  pg-kill  order  (4 connections to 127.0.0.1:5432/shop_order)',
    );
    assert.equal(
      formatFaultRecord(
        {
          atMs: 7_400,
          fault: 'kill:random@every=5s',
          action: 'kill',
          target: 'order[0]',
          outcome: 'applied',
        },
        false,
      ),
      '   +7.4s  kill    order[0]',
    );
    assert.equal(
      formatFaultRecord(
        {
          atMs: 40_000,
          fault: 'heal',
          action: 'nats-start',
          target: 'nats',
          outcome: 'applied',
          detail: 'accepting clients after 90 ms',
        },
        false,
      ),
      '  +40.0s  nats-start  nats  (accepting clients after 90 ms; heal)',
    );
    assert.equal(
      formatFaultRecord(
        {
          atMs: 12_000,
          fault: 'nats-restart@every=10s',
          action: 'nats-stop',
          target: 'nats',
          outcome: 'skipped',
          detail: 'the NATS server is already down',
        },
        false,
      ),
      '  +12.0s  nats-stop  nats  skipped: the NATS server is already down',
    );
  });
});

describe('formatChaosSummary', () => {
  const report: ChaosReport = {
    system: 'shop',
    profile: 'distributed',
    seed: 1,
    durationMs: 30_000,
    concurrency: 4,
    faults: ['nats-restart@every=10s,for=2s', 'pg-kill:order@every=6s'],
    startedAt: '2026-01-01T00:00:00.000Z',
    elapsedMs: 95_000,
    cancelled: false,
    workload: { operations: 3, outcomes: { accepted: 3 } },
    infrastructure: {
      natsServer: 'nats://127.0.0.1:25397',
      databases: ['127.0.0.1:5432/shop_order', '127.0.0.1:5432/shop_payment'],
    },
    nemesis: [
      {
        atMs: 1,
        fault: 'nats-restart@every=10s,for=2s',
        action: 'nats-stop',
        target: 'nats',
        outcome: 'applied',
      },
      {
        atMs: 2,
        fault: 'nats-restart@every=10s,for=2s',
        action: 'nats-start',
        target: 'nats',
        outcome: 'applied',
      },
      { atMs: 3, fault: 'pg-kill:order@every=6s', action: 'pg-kill', target: 'order', outcome: 'applied' },
      {
        atMs: 4,
        fault: 'pg-kill:order@every=6s',
        action: 'pg-kill',
        target: 'order',
        outcome: 'failed',
        detail: 'refused',
      },
    ],
    notHealed: [],
    check: { passed: true, attempts: 1, settledAfterMs: 500, invariants: [] },
    history: null,
    passed: true,
  };

  it("names the run's own NATS server and the databases, and counts the infrastructure actions", () => {
    const lines = formatChaosSummary(report, false).split('\n');
    assert.equal(
      lines[3],
      "  infra       NATS nats://127.0.0.1:25397 (the run's own) · PostgreSQL 2 databases",
    );
    assert.equal(lines[4], '  applied     nats-stop ×1, nats-start ×1, pg-kill ×1 (1 skipped or refused)');
  });

  it('leaves the infra line out when the run had neither', () => {
    const summary = formatChaosSummary(
      { ...report, infrastructure: { natsServer: null, databases: [] } },
      false,
    );
    assert.doesNotMatch(summary, /infra/);
  });
});
