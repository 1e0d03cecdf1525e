import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Doorbells } from './wake.js';

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

/** A watching and a ringing instance of one new log's doorbells, closed after the test, and their errors. */
function twoSides(t: TestContext) {
  const log = tempLog(t);
  const errors: unknown[] = [];
  const listener = new Doorbells(log, (e) => errors.push(e));
  const publisher = new Doorbells(log, (e) => errors.push(e));
  t.after(() => {
    listener.close();
    publisher.close();
  });
  return { log, errors, listener, publisher };
}

describe('Doorbells', () => {
  it('wakes a watcher when another instance rings one of its topics, and not for other topics', async (t) => {
    const { log, errors, listener, publisher } = twoSides(t);
    let heard = 0;
    assert.equal(
      listener.watch(['OrderPlaced', 'OrderCancelled'], () => heard++),
      true,
    );
    assert.ok(existsSync(join(`${log}-topics`, 'OrderPlaced')), 'watching creates the topic file');
    // A topic nobody watches has no file, and ringing it creates none.
    publisher.ring(['ProductChanged']);
    assert.equal(existsSync(join(`${log}-topics`, 'ProductChanged')), false);
    publisher.ring(['OrderPlaced']);
    await rings(() => heard, 1, 'the ring of a watched topic');
    publisher.ring(['ProductChanged']);
    publisher.ring(['OrderCancelled']);
    await rings(() => heard, 2, 'the ring of the second watched topic');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(heard, 2, 'a ring of an unwatched topic woke the watcher');
    assert.deepEqual(errors, []);
  });

  it('keeps working when a topic file is deleted: the watch recreates and follows it', async (t) => {
    const { log, errors, listener, publisher } = twoSides(t);
    let heard = 0;
    listener.watch(['OrderPlaced'], () => heard++);
    unlinkSync(join(`${log}-topics`, 'OrderPlaced'));
    await rings(() => heard, 1, 'the deletion to be noticed');
    await rings(
      () => (existsSync(join(`${log}-topics`, 'OrderPlaced')) ? 1 : 0),
      1,
      'the file to be recreated',
    );
    const before = heard;
    publisher.ring(['OrderPlaced']);
    await rings(() => heard, before + 1, 'a ring on the recreated file');
    assert.deepEqual(errors, []);
  });

  it('does nothing once closed', async (t) => {
    const log = tempLog(t);
    const bells = new Doorbells(log, (e) => assert.fail(String(e)));
    bells.close();
    bells.ring(['OrderPlaced']);
    assert.equal(
      bells.watch(['OrderPlaced'], () => {}),
      false,
    );
    assert.equal(existsSync(`${log}-topics`), false);
  });
});
