import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { dialectEnvironment, dialects } from './fixtures/dialects.js';
import { openStore } from './open-store.js';

const CHILD = fileURLToPath(new URL('./fixtures/race-child.ts', import.meta.url));

interface ChildReport {
  ok: boolean;
  applied?: string[];
  states?: string[];
  error?: string;
}

/** Starts a child that opens the store when told "go"; resolves once it is ready. */
async function startChild(url: string, service: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, url, service],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else output.push(line);
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)));
  });
  const exited = once(child, 'exit');
  await ready;
  return {
    child,
    go: () => child.stdin?.end('go\n'),
    report: async (): Promise<ChildReport> => {
      await exited;
      const last = output.at(-1);
      if (last === undefined) throw new Error(`child printed no report; stderr: ${stderr}`);
      return JSON.parse(last) as ChildReport;
    },
  };
}

for (const { dialect, skip } of await dialects()) {
  describe(`concurrent migration on ${dialect}`, { skip }, () => {
    const env = dialectEnvironment(dialect, 'store_race');

    async function race(url: string, t: { after(fn: () => unknown): void }) {
      const children = await Promise.all([startChild(url, 'orders'), startChild(url, 'orders')]);
      t.after(() => {
        for (const { child } of children) if (child.exitCode === null) child.kill();
      });
      for (const c of children) c.go();
      const reports = await Promise.all(children.map((c) => c.report()));
      for (const report of reports) assert.equal(report.ok, true, report.error);
      const appliedByEither = reports.flatMap((r) => r.applied ?? []).sort();
      const ids = ['0001_race_log', '0002_step', '0003_step', '0004_step', '0005_step', '0006_step'];
      assert.deepEqual(appliedByEither, ids, 'each migration applied by exactly one of the two processes');
      for (const report of reports)
        assert.deepEqual(
          report.states,
          ids.map(() => 'applied'),
        );

      const store = await openStore({ service: 'orders', url, migrate: false });
      t.after(() => store.close());
      const recorded = await sql<{ id: string; n: number }>`
        select id, count(*) as n from flotilla_migrations group by id order by id`.execute(store.db);
      assert.deepEqual(
        recorded.rows.map((r) => [r.id, Number(r.n)]),
        ids.map((id) => [id, 1]),
      );
      const log = await sql<{ migration: string }>`select migration from race_log order by migration`.execute(
        store.db,
      );
      assert.deepEqual(
        log.rows.map((r) => r.migration),
        ids.slice(1),
      );
    }

    it('applies every migration exactly once when two processes open the same database at once', async (t) => {
      await race(await env.freshDatabase(), t);
    });

    if (dialect === 'postgres')
      it('applies every migration exactly once when two processes open the same new schema at once', async (t) => {
        await race(env.freshUrl('race'), t);
      });
  });
}
