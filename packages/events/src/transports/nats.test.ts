import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '@flotilla/service/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { transportConformance } from '../testing/transport-conformance.js';
import type { Delivery, Transport } from '../transport.js';
import { isIncompatibleTransportError, isTransportUnavailableError } from './errors.js';
import { startFixture } from './fixtures/child-process.js';
import { natsTransport } from './nats.js';

const NATS_URL = process.env.FLOTILLA_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

async function reachable(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, maxReconnectAttempts: 0 });
    await (await jetstreamManager(nc)).getAccountInfo();
    await nc.close();
    return undefined;
  } catch (err) {
    // In CI the tests run (and fail) instead of skipping.
    return process.env.CI ? undefined : `NATS JetStream not reachable at ${NATS_URL}: ${String(err)}`;
  }
}

const skip = await reachable();

/** A stream and subject prefix of its own for one test, deleted afterwards. */
async function privateStream(): Promise<{
  stream: string;
  subjectPrefix: string;
  remove: () => Promise<void>;
}> {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  const stream = `FLOTILLA_TEST_${id}`;
  return {
    stream,
    subjectPrefix: `flotilla_test.${id}`,
    remove: async () => {
      const nc = await connect({ servers: NATS_URL });
      try {
        await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      } finally {
        await nc.close();
      }
    },
  };
}

transportConformance(
  'nats',
  async () => {
    const { stream, subjectPrefix, remove } = await privateStream();
    const opened: Transport[] = [];
    return {
      open: async () => {
        const transport = await natsTransport({ servers: NATS_URL, stream, subjectPrefix });
        opened.push(transport);
        return transport;
      },
      dispose: async () => {
        await Promise.all(opened.map((t) => t.close()));
        await remove();
      },
    };
  },
  { skip, shortAckWaitMs: 1000 },
);

const NATS_SERVER_BIN = process.env.FLOTILLA_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A nats-server of the test's own on a free loopback port, with its own store, that can be killed and restarted. */
class PrivateServer {
  private process: ChildProcess | undefined;
  readonly url: string;

  private constructor(
    private readonly port: number,
    private readonly storeDir: string,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  static async start(): Promise<PrivateServer> {
    const server = new PrivateServer(await freePort(), mkdtempSync(join(tmpdir(), 'flotilla-nats-')));
    await server.restart();
    return server;
  }

  /** Starts the server (again) and resolves once it accepts JetStream requests. */
  async restart(): Promise<void> {
    this.process = spawn(
      NATS_SERVER_BIN,
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const nc = await connect({ servers: this.url, timeout: 500, maxReconnectAttempts: 0 });
        await (await jetstreamManager(nc)).getAccountInfo();
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`private nats-server did not start: ${String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** SIGKILLs the server and resolves once it is gone. */
  async kill(): Promise<void> {
    const p = this.process;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const serverSkip =
  skip ??
  (existsSync(NATS_SERVER_BIN) || process.env.CI ? undefined : `no nats-server at ${NATS_SERVER_BIN}`);

describe('natsTransport', () => {
  it('redelivers to a surviving process the message of a consumer killed mid-handler', {
    skip,
  }, async (t) => {
    const { stream, subjectPrefix, remove } = await privateStream();
    t.after(remove);
    const consumer = startFixture('hanging-consumer', {
      transport: 'nats',
      servers: NATS_URL,
      stream,
      subjectPrefix,
      group: 'crash',
      topic: 'Crashing',
      ackWaitMs: 1000,
    });
    t.after(() => consumer.kill());
    await consumer.waitFor((l) => l.event === 'ready', 'the consumer to subscribe');

    const transport = await natsTransport({ servers: NATS_URL, stream, subjectPrefix });
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
  });

  it('resumes publishing and consuming after the broker is killed and restarted, losing nothing', {
    skip: serverSkip,
  }, async (t) => {
    const server = await PrivateServer.start();
    t.after(() => server.dispose());
    const errors: unknown[] = [];
    const transport = await natsTransport({
      servers: server.url,
      stream: 'RESTART_TEST',
      subjectPrefix: 'restart',
      publishTimeoutMs: 1000,
      onError: (e) => errors.push(e),
    });
    t.after(() => transport.close());

    const applied = new Set<string>();
    let deliveries = 0;
    await transport.subscribe(
      { group: 'effects', topics: ['Counted'], ackWaitMs: 2000, startAt: 'beginning' },
      async (d) => {
        deliveries++;
        applied.add(d.id); // an idempotent effect, as an inbox makes it
        return { kind: 'ack' };
      },
    );

    const total = 300;
    const batches = Array.from({ length: total / 10 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => ({
        id: `evt-${b * 10 + i}`,
        topic: 'Counted',
        key: `order-${i}`,
        payload: new Uint8Array([b, i]),
      })),
    );
    let failedPublishes = 0;
    const publishAll = async (list: typeof batches): Promise<void> => {
      for (const batch of list) {
        // What an outbox relay does: retry the same batch (same ids) until the broker takes it.
        for (;;) {
          try {
            await transport.publish(batch);
            break;
          } catch (err) {
            if (!isTransportUnavailableError(err)) throw err;
            failedPublishes++;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    };

    await publishAll(batches.slice(0, 10));
    await until(() => applied.size === 100, 'the events published before the crash');
    await server.kill();
    await assert.rejects(transport.check(AbortSignal.timeout(1000)));
    const publishing = publishAll(batches.slice(10));
    await until(() => failedPublishes > 0, 'a publish to fail while the broker is down');
    await server.restart();
    await publishing;
    await until(() => applied.size === total, 'every event after the restart', 60_000);

    const nc = await connect({ servers: server.url });
    t.after(() => nc.close());
    const info = await (await jetstreamManager(nc)).streams.info('RESTART_TEST');
    assert.equal(info.state.messages, total, 'the stream holds a duplicate or lost a message');
    assert.deepEqual(
      [...applied].sort(),
      batches
        .flat()
        .map((m) => m.id)
        .sort(),
    );
    assert.ok(deliveries >= total);
    t.diagnostic(
      `${failedPublishes} publish attempts failed while the broker was down; ${deliveries - total} redeliveries`,
    );
  });

  it('refuses an existing stream created with another partition count', { skip }, async (t) => {
    const { stream, subjectPrefix, remove } = await privateStream();
    t.after(remove);
    await (await natsTransport({ servers: NATS_URL, stream, subjectPrefix, partitions: 8 })).close();
    await assert.rejects(
      natsTransport({ servers: NATS_URL, stream, subjectPrefix, partitions: 16 }),
      (err: unknown) => isIncompatibleTransportError(err) && /partitions 8/.test(String(err)),
    );
  });

  it('updates the duplicate window of an existing stream', { skip }, async (t) => {
    const { stream, subjectPrefix, remove } = await privateStream();
    t.after(remove);
    await (await natsTransport({ servers: NATS_URL, stream, subjectPrefix })).close();
    await (
      await natsTransport({ servers: NATS_URL, stream, subjectPrefix, duplicateWindowMs: 600_000 })
    ).close();
    const nc = await connect({ servers: NATS_URL });
    t.after(() => nc.close());
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    assert.equal(info.config.duplicate_window, 600_000 * 1_000_000);
  });

  it('rejects options that are out of range, naming the field', async () => {
    await assert.rejects(natsTransport({ stream: 'a.b' }), /natsTransport.stream must be/);
    await assert.rejects(
      natsTransport({ duplicateWindowMs: 10_000, maxAgeMs: 5000 }),
      /natsTransport.duplicateWindowMs \(10000\) must not exceed natsTransport.maxAgeMs \(5000\)/,
    );
  });
});
