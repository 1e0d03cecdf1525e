import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '@flotilla/store';
import { sql } from 'kysely';
import { defer, dialects, freshDatabase } from './saga.test-helpers.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-runner.ts');

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: { event: string; state?: string; msg?: string }[];
  readonly stderr: string;
}

/** Runs the fixture runner to its end (or its SIGKILL). */
function runFixture(env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Exit['lines'][number]);
      resolve({ code, signal, lines, stderr });
    });
  });
}

const completed = ['reserve:action', 'charge:action', 'ship:action'];
const compensated = ['reserve:action', 'charge:action', 'charge:compensation', 'reserve:compensation'];

const points: { at: string; failShip: boolean }[] = [
  { at: 'start:after-commit', failShip: false },
  { at: 'reserve:before-call', failShip: false },
  { at: 'reserve:after-commit', failShip: false },
  { at: 'charge:after-checkpoint', failShip: false },
  { at: 'ship:after-commit', failShip: false },
  { at: 'confirm:in-transaction', failShip: false },
  { at: 'charge:after-commit', failShip: true },
  { at: 'charge:mid-compensation', failShip: true },
  { at: 'reserve:mid-compensation', failShip: true },
];

for (const { dialect, skip } of dialects) {
  describe(`crash recovery on ${dialect}`, { skip }, () => {
    for (const { at, failShip } of points) {
      it(`applies every effect exactly once after a SIGKILL at ${at}${failShip ? ' (compensating)' : ''}`, async (t) => {
        const orderDb = await freshDatabase(dialect, 'crash_order');
        const participantDb = await freshDatabase(dialect, 'crash_participant');
        defer(t, () => orderDb.cleanup());
        defer(t, () => participantDb.cleanup());
        const env = { FIXTURE_ORDER_URL: orderDb.url, FIXTURE_PARTICIPANT_URL: participantDb.url };

        const first = await runFixture({
          ...env,
          FIXTURE_START: 'o-1',
          FIXTURE_FAIL_SHIP: failShip ? '1' : '0',
          FLOTILLA_SAGA_CRASH_AT: at,
        });
        assert.equal(first.signal, 'SIGKILL', `the runner should have been killed at ${at}: ${first.stderr}`);

        const second = await runFixture({ ...env, FIXTURE_WAIT: 'o-1' });
        assert.equal(second.code, 0, second.stderr);
        const expected = failShip ? 'compensated' : 'completed';
        assert.deepEqual(
          second.lines.filter((l) => l.event === 'settled').map((l) => l.state),
          [expected],
        );

        const participant = await openStore({
          service: 'participant-check',
          url: participantDb.url,
          migrate: false,
        });
        defer(t, () => participant.close());
        const { rows } = await sql<{ step: string; kind: string; n: number }>`
          select step, kind, count(*) as n from effects group by step, kind`.execute(participant.db);
        const applied = rows.map((r) => `${r.step}:${r.kind}`).sort();
        assert.deepEqual(applied, [...(failShip ? compensated : completed)].sort());
        assert.ok(
          rows.every((r) => Number(r.n) === 1),
          `an effect was applied twice: ${JSON.stringify(rows)}`,
        );

        const orders = await openStore({ service: 'order-check', url: orderDb.url, migrate: false });
        defer(t, () => orders.close());
        const { rows: status } = await sql<{
          status: string;
        }>`select status from orders where id = 'o-1'`.execute(orders.db);
        assert.equal(status[0]?.status, failShip ? 'PENDING' : 'CONFIRMED');
      });
    }
  });
}
