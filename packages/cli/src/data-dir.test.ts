import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isDataDirError, isSystemRunningError } from './errors.js';
import { fixtureEntry, processExists, temporaryDirectory } from './fixtures/harness.js';
import { acquireLock, LOCK_FILE, readLiveLock } from './lock-file.js';
import { resetData } from './reset-data.js';
import { loadOrCreateSecrets, readSecrets } from './secrets-file.js';

const lockInfo = {
  system: 'demo',
  profile: null,
  controlPort: 0,
  startedAt: '2026-01-01T00:00:00Z',
  children: [],
};

/** The id of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  return child.pid!;
}

describe('secrets file', () => {
  it('generates missing secrets once, keeps them owner-only, and adds new names later', (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const first = loadOrCreateSecrets(tmp.dir, ['FLOTILLA_SERVICE_KEY', 'FLOTILLA_ADMIN_TOKEN']);
    assert.match(first.FLOTILLA_SERVICE_KEY!, /^[0-9a-f]{64}$/);
    assert.notEqual(first.FLOTILLA_SERVICE_KEY, first.FLOTILLA_ADMIN_TOKEN);
    assert.equal(statSync(join(tmp.dir, 'secrets.json')).mode & 0o777, 0o600);
    const second = loadOrCreateSecrets(tmp.dir, [
      'FLOTILLA_SERVICE_KEY',
      'FLOTILLA_ADMIN_TOKEN',
      'JWT_SECRET',
    ]);
    assert.equal(second.FLOTILLA_SERVICE_KEY, first.FLOTILLA_SERVICE_KEY);
    assert.match(second.JWT_SECRET!, /^[0-9a-f]{64}$/);
    assert.deepEqual(readSecrets(tmp.dir), second);
  });

  it('refuses a corrupt secrets file with a message naming it', (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    writeFileSync(join(tmp.dir, 'secrets.json'), '{"secrets": 1}');
    assert.throws(
      () => readSecrets(tmp.dir),
      (err) =>
        isDataDirError(err) &&
        err.file === join(tmp.dir, 'secrets.json') &&
        /flotilla reset/.test(err.message),
    );
  });
});

describe('lock file', () => {
  it('lets one supervisor hold a data directory at a time', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const lock = await acquireLock(tmp.dir, lockInfo);
    assert.equal(readLiveLock(tmp.dir)?.pid, process.pid);
    await assert.rejects(
      acquireLock(tmp.dir, lockInfo),
      (err) => isSystemRunningError(err) && err.pid === process.pid,
    );
    lock.update({ controlPort: 7100 });
    assert.equal(readLiveLock(tmp.dir)?.controlPort, 7100);
    lock.release();
    assert.equal(existsSync(join(tmp.dir, LOCK_FILE)), false);
    (await acquireLock(tmp.dir, lockInfo)).release();
  });

  it('replaces the lock of a supervisor that died, ending the children it left behind', async (t) => {
    const tmp = temporaryDirectory();
    const orphan = spawn(process.execPath, [fixtureEntry('ignores-sigterm.mjs')], {
      env: { ...process.env, FLOTILLA_PORT: '0', FLOTILLA_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.after(() => {
      orphan.kill('SIGKILL');
      tmp.remove();
    });
    const exited = once(orphan, 'exit');
    // Its SIGTERM handler is installed once it listens.
    await once(orphan.stdout!, 'data');
    const stale = {
      version: 1,
      pid: await deadPid(),
      ...lockInfo,
      children: [
        { service: 'front', instance: 0, pid: orphan.pid!, entry: fixtureEntry('ignores-sigterm.mjs') },
      ],
    };
    writeFileSync(join(tmp.dir, LOCK_FILE), JSON.stringify(stale));
    assert.equal(readLiveLock(tmp.dir), undefined, 'a lock whose supervisor died is not live');
    const lock = await acquireLock(tmp.dir, lockInfo);
    // The orphan ignores SIGTERM, so it took SIGKILL after the wait.
    assert.deepEqual(await exited, [null, 'SIGKILL']);
    assert.equal(JSON.parse(readFileSync(join(tmp.dir, LOCK_FILE), 'utf8')).pid, process.pid);
    lock.release();
  });

  it('leaves alone a recorded pid that now belongs to another program', async (t) => {
    const tmp = temporaryDirectory();
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    t.after(() => {
      other.kill('SIGKILL');
      tmp.remove();
    });
    const stale = {
      version: 1,
      pid: await deadPid(),
      ...lockInfo,
      children: [{ service: 'front', instance: 0, pid: other.pid!, entry: '/somewhere/else/main.ts' }],
    };
    writeFileSync(join(tmp.dir, LOCK_FILE), JSON.stringify(stale));
    (await acquireLock(tmp.dir, lockInfo)).release();
    assert.equal(processExists(other.pid!), true);
  });
});

describe('resetData', () => {
  it('deletes the data directory, and says when there was nothing to delete', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const system = { name: 'demo', dataDir: join(tmp.dir, 'data'), baseDir: tmp.dir };
    mkdirSync(join(system.dataDir, 'order'), { recursive: true });
    writeFileSync(join(system.dataDir, 'order', 'order.db'), 'x');
    assert.equal(await resetData(system), true);
    assert.equal(existsSync(system.dataDir), false);
    assert.equal(await resetData(system), false);
  });

  it('refuses while a supervisor holds the data directory', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const system = { name: 'demo', dataDir: join(tmp.dir, 'data'), baseDir: tmp.dir };
    const lock = await acquireLock(system.dataDir, lockInfo);
    t.after(() => lock.release());
    await assert.rejects(
      resetData(system),
      (err) => isSystemRunningError(err) && /refusing to reset/.test(err.message),
    );
    assert.equal(existsSync(join(system.dataDir, LOCK_FILE)), true);
  });

  it('refuses to delete a directory that holds the system file', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    await assert.rejects(
      resetData({ name: 'demo', dataDir: tmp.dir, baseDir: join(tmp.dir, 'apps') }),
      (err) => isDataDirError(err) && /it is a directory that contains the system file/.test(err.message),
    );
    assert.equal(existsSync(tmp.dir), true);
  });
});
