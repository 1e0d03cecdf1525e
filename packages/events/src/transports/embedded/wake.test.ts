import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Doorbell } from './wake.js';

function tempLog(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-doorbell-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'bus.db');
}

/** Resolves once `count()` reaches `n`; fails after 5 s. */
async function rings(count: () => number, n: number, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (count() < n) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what} (${count()} of ${n})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A watching and a ringing doorbell of one new log, closed after the test, and their errors. */
function twoBells(t: TestContext) {
  const log = tempLog(t);
  const errors: unknown[] = [];
  const listener = new Doorbell(log, (e) => errors.push(e));
  const publisher = new Doorbell(log, (e) => errors.push(e));
  t.after(() => {
    listener.close();
    publisher.close();
  });
  return { log, errors, listener, publisher };
}

describe('Doorbell', () => {
  it('wakes a watcher of the same log when another instance rings, and only then', async (t) => {
    const { log, errors, listener, publisher } = twoBells(t);
    let heard = 0;
    assert.equal(
      listener.watch(() => heard++),
      true,
    );
    assert.ok(existsSync(`${log}-wake`), 'watching creates the doorbell file beside the log');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(heard, 0, 'nothing rang yet');
    publisher.ring();
    await rings(() => heard, 1, 'the first ring');
    publisher.ring();
    await rings(() => heard, 2, 'the second ring');
    assert.deepEqual(errors, []);
  });

  it('keeps working when the doorbell file is deleted: the ring recreates it, the watch follows it', async (t) => {
    const { log, errors, listener, publisher } = twoBells(t);
    let heard = 0;
    listener.watch(() => heard++);
    unlinkSync(`${log}-wake`);
    await rings(() => heard, 1, 'the deletion to be noticed');
    const before = heard;
    publisher.ring();
    assert.ok(existsSync(`${log}-wake`));
    publisher.ring();
    await rings(() => heard, before + 1, 'a ring on the recreated file');
    assert.deepEqual(errors, []);
  });

  it('does nothing once closed', async (t) => {
    const log = tempLog(t);
    const bell = new Doorbell(log, (e) => assert.fail(String(e)));
    bell.close();
    bell.ring();
    assert.equal(
      bell.watch(() => {}),
      false,
    );
    assert.equal(existsSync(`${log}-wake`), false);
  });
});
