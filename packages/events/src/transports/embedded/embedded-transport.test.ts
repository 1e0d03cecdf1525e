import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { transportConformance } from '../../testing/transport-conformance.js';
import type { Delivery, Transport } from '../../transport.js';
import { isIncompatibleTransportError } from '../errors.js';
import { startFixture } from '../fixtures/child-process.js';
import { embeddedTransport } from './embedded-transport.js';
import { openDatabase } from './sqlite.js';

function tempLog(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-embedded-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'bus.db');
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

transportConformance('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-embedded-'));
  const opened: Transport[] = [];
  return {
    open: async () => {
      const transport = embeddedTransport({ path: join(dir, 'bus.db') });
      opened.push(transport);
      return transport;
    },
    dispose: async () => {
      await Promise.all(opened.map((t) => t.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('embeddedTransport', () => {
  it('redelivers to a surviving process the message of a consumer killed mid-handler', async (t) => {
    const path = tempLog(t);
    const consumer = startFixture('hanging-consumer', {
      transport: 'embedded',
      path,
      group: 'crash',
      topic: 'Crashing',
      ackWaitMs: 1000,
    });
    t.after(() => consumer.kill());
    await consumer.waitFor((l) => l.event === 'ready', 'the consumer to subscribe');

    const transport = embeddedTransport({ path });
    t.after(() => transport.close());
    const payload = new Uint8Array([1]);
    await transport.publish([
      { id: 'first', topic: 'Crashing', key: 'order-1', payload },
      { id: 'second', topic: 'Crashing', key: 'order-1', payload },
    ]);
    await consumer.waitFor(
      (l) => l.event === 'handling' && l.id === 'first',
      'the consumer to start handling',
    );
    await consumer.kill();

    const got: Delivery[] = [];
    await transport.subscribe({ group: 'crash', topics: ['Crashing'], ackWaitMs: 1000 }, async (d) => {
      got.push(d);
      return { kind: 'ack' };
    });
    await until(() => got.length === 2, 'both messages in the surviving process');
    assert.deepEqual(
      got.map((d) => d.id),
      ['first', 'second'],
    );
    assert.ok(got[0]!.deliveryCount >= 2, `deliveryCount ${got[0]!.deliveryCount} after a crash mid-handler`);
    assert.equal(got[1]!.deliveryCount, 1);
  });

  it('keeps a batch whole or not at all when its publisher is killed mid-transaction', async (t) => {
    const path = tempLog(t);
    const batchSize = 2000;
    const publisher = startFixture('batch-publisher', { path, batchSize });
    t.after(() => publisher.kill());
    await publisher.waitFor((l) => l.event === 'begin' && Number(l.batch) >= 5, 'a few batches');
    await publisher.kill();
    const last = publisher.lines.at(-1)!;
    assert.equal(last.event, 'begin', 'the publisher was not killed inside publish()');

    const db = openDatabase(path, 5000, 'normal');
    let counts: { key: string; n: number }[];
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      counts = db
        .prepare<{ key: string; n: number }>(`SELECT key, count(*) AS n FROM log GROUP BY key`)
        .all();
    } finally {
      db.close();
    }
    for (const { key, n } of counts) assert.equal(n, batchSize, `${key} has ${n} of ${batchSize} messages`);
    const killedBatch = `batch-${String(last.batch)}`;
    const committed = counts.length;
    const rolledBack = counts.every((c) => c.key !== killedBatch);
    t.diagnostic(
      `killed inside batch ${String(last.batch)}: ${rolledBack ? 'rolled back' : 'had committed'}`,
    );
    assert.ok(committed >= 5, `only ${committed} batches committed`);
    assert.ok(rolledBack || committed === Number(last.batch) + 1, 'batches out of order');

    const reader = embeddedTransport({ path });
    t.after(() => reader.close());
    const sub = await reader.subscribe(
      { group: 'audit', topics: ['Batched'], startAt: 'beginning' },
      async () => ({
        kind: 'retry',
        delayMs: 3_600_000,
      }),
    );
    await sub.close();
    assert.equal(await reader.lag!('audit'), committed * batchSize);
  });

  it('refuses a log created with another partition count', async (t) => {
    const path = tempLog(t);
    await embeddedTransport({ path, partitions: 8 }).close();
    assert.throws(
      () => embeddedTransport({ path, partitions: 16 }),
      (err: unknown) =>
        isIncompatibleTransportError(err) &&
        /partitions 8, but this transport is configured with 16/.test(String(err)),
    );
  });

  it('deletes messages older than retentionMs', async (t) => {
    const path = tempLog(t);
    let now = Date.now();
    const clock = {
      now: () => now,
      setTimeout: (cb: () => void, ms: number) => setTimeout(cb, Math.min(ms, 20)),
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const transport = embeddedTransport({ path, clock, retentionMs: 60_000 });
    t.after(() => transport.close());
    const sub = await transport.subscribe(
      { group: 'kept', topics: ['Old'], startAt: 'beginning' },
      async () => ({
        kind: 'retry',
        delayMs: 3_600_000,
      }),
    );
    await sub.close();
    const payload = new Uint8Array();
    await transport.publish(
      Array.from({ length: 1200 }, (_, i) => ({ id: `old-${i}`, topic: 'Old', key: `k${i}`, payload })),
    );
    now += 30_000;
    await transport.publish([{ id: 'young', topic: 'Old', key: 'k', payload }]);
    assert.equal(await transport.lag!('kept'), 1201);
    now += 40_000;
    await until(async () => (await transport.lag!('kept')) === 1, 'the old messages to be deleted');
  });

  it("does not write a group's cursors for messages of topics it does not take", async (t) => {
    const path = tempLog(t);
    const transport = embeddedTransport({ path, pollIntervalMs: 20 });
    t.after(() => transport.close());
    const got = { orders: 0, mail: 0 };
    const ack = (group: keyof typeof got) => async () => {
      got[group]++;
      return { kind: 'ack' as const };
    };
    await transport.subscribe({ group: 'orders', topics: ['OrderPlaced'] }, ack('orders'));
    await transport.subscribe({ group: 'mail', topics: ['MailRequested'] }, ack('mail'));
    // Count, from inside the log, every write that moves one of the bystander's cursors.
    const db = openDatabase(path, 5000, 'normal');
    t.after(() => db.close());
    db.exec(`CREATE TABLE moves (n INTEGER);
      CREATE TRIGGER count_moves AFTER UPDATE OF acked_seq ON cursors
      WHEN new.grp = 'mail' AND new.acked_seq <> old.acked_seq BEGIN INSERT INTO moves VALUES (1); END;`);
    const payload = new Uint8Array([1]);
    for (let i = 0; i < 40; i++) {
      await transport.publish([{ id: `order-${i}`, topic: 'OrderPlaced', key: `k${i}`, payload }]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => got.orders === 40, 'the orders group to take its 40 messages');
    // Several polls look at the log meanwhile: skipping foreign messages writes nothing.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const moves = () => db.prepare<{ n: number }>('SELECT count(*) AS n FROM moves').get()!.n;
    assert.equal(moves(), 0, 'cursor writes for messages the group does not take');
    assert.equal(await transport.lag!('mail'), 0);
    await transport.publish([{ id: 'mail-1', topic: 'MailRequested', key: 'k7', payload }]);
    await until(() => got.mail === 1, 'the mail group to take its message');
    // Its own message is recorded: the delivery's start moves the cursor, and so may its settlement.
    await until(() => moves() >= 1, 'the delivery to be recorded');
    assert.ok(moves() <= 2, `${moves()} cursor writes for one delivered message`);
  });

  it('rejects options that are out of range, naming the field', () => {
    assert.throws(() => embeddedTransport({ path: '' }), /embeddedTransport.path must be a file path/);
    assert.throws(
      () => embeddedTransport({ path: 'x.db', partitions: 0 }),
      /embeddedTransport.partitions must be an integer in \[1, 1024\], got 0/,
    );
    assert.throws(
      () => embeddedTransport({ path: 'x.db', pollIntervalMs: -1 }),
      /embeddedTransport.pollIntervalMs must be a finite number > 0, got -1/,
    );
  });
});
