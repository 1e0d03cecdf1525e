import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { natsTransport } from '@flotilla/events';
import { skipUnlessCi } from '@flotilla/store/testing';
import { isChaosInfraError } from './infra-errors.js';
import { pointNatsAt, startNatsServer } from './infra-nats-server.js';
import { validateSystem } from './validate-system.js';

/** The nats-server program: `FLOTILLA_TEST_NATS_SERVER`, else `nats-server` on PATH. */
const BINARY = process.env.FLOTILLA_TEST_NATS_SERVER || 'nats-server';

function natsServerMissing(): string | false {
  if (spawnSync(BINARY, ['--version']).status === 0) return false;
  return skipUnlessCi(
    `owned NATS server tests skipped: ${BINARY} not found or not runnable (install nats-server, or set FLOTILLA_TEST_NATS_SERVER)`,
  );
}

const utf8 = new TextEncoder();

describe('startNatsServer', { skip: natsServerMissing() }, () => {
  it('restarts on the same port and store: clients reconnect and the stream keeps its messages', async (t) => {
    const nats = await startNatsServer({ binary: BINARY });
    t.after(() => nats.close());
    assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`);
    assert.ok(nats.port >= 20_000 && nats.port < 32_768, String(nats.port));
    assert.equal(nats.running, true);

    const transport = await natsTransport({ servers: nats.url, partitions: 1 });
    t.after(() => transport.close());
    const message = (id: string) => ({ id, topic: 'Noted', key: 'k', payload: utf8.encode(id) });
    await transport.publish([message('before')]);

    assert.equal(await nats.stop(), true);
    assert.equal(nats.running, false);
    assert.equal(await nats.stop(), false, 'a second stop finds it down');
    await assert.rejects(transport.check(AbortSignal.timeout(1_000)));

    const ms = await nats.start();
    assert.equal(typeof ms, 'number');
    assert.equal(await nats.start(), undefined, 'a second start finds it running');
    // The transport connected before the restart reconnects by itself and publishes again.
    for (let attempt = 0; ; attempt++) {
      try {
        await transport.publish([message('after')]);
        break;
      } catch (err) {
        if (attempt > 100) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const seen: string[] = [];
    const subscription = await transport.subscribe(
      { group: 'reader', topics: ['Noted'], startAt: 'beginning' },
      async (delivery) => {
        seen.push(new TextDecoder().decode(delivery.payload));
        return { kind: 'ack' };
      },
    );
    t.after(() => subscription.close());
    for (let waited = 0; seen.length < 2 && waited < 10_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen, ['before', 'after']);
  });

  it('removes its temporary store on close, and keeps a store it was given', async () => {
    const own = await startNatsServer({ binary: BINARY });
    const storeDir = own.storeDir;
    assert.ok(existsSync(storeDir));
    await own.close();
    assert.equal(existsSync(storeDir), false);

    const given = mkdtempSync(join(tmpdir(), 'flotilla-nats-given-'));
    try {
      const server = await startNatsServer({ binary: BINARY, storeDir: given });
      await server.close();
      assert.ok(existsSync(given));
      await assert.rejects(server.start(), /the NATS server was closed/);
    } finally {
      rmSync(given, { recursive: true, force: true });
    }
  });

  it('fails with the reason when the program is missing or the port is taken', async () => {
    await assert.rejects(startNatsServer({ binary: '/nonexistent/nats-server' }), (err: Error) => {
      assert.ok(isChaosInfraError(err));
      assert.match(err.message, /did not start: \/nonexistent\/nats-server not found/);
      return true;
    });
    const first = await startNatsServer({ binary: BINARY });
    try {
      await assert.rejects(
        startNatsServer({ binary: BINARY, port: first.port, readyTimeoutMs: 5_000 }),
        /did not start: exited with code 1[\s\S]*address already in use/,
      );
    } finally {
      await first.close();
    }
  });
});

describe('pointNatsAt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-point-nats-'));
  mkdirSync(join(dir, 'svc'));
  writeFileSync(join(dir, 'svc', 'main.js'), '');
  const system = validateSystem(
    {
      name: 'demo',
      env: { BROKER: 'nats://10.0.0.1:4222' },
      services: [
        { name: 'a', entry: 'svc/main.js', port: 7001, env: { LOG: 'info' } },
        {
          name: 'b',
          entry: 'svc/main.js',
          instances: [{ port: 7002, env: { OWN: 'nats://127.0.0.1:4222,nats://127.0.0.1:4223' } }],
        },
      ],
      profiles: {
        distributed: {
          env: { FLOTILLA_TRANSPORT: 'nats://127.0.0.1:4222' },
          services: { a: { env: { NOTE: 'tcp://elsewhere:1' } } },
        },
      },
    },
    { baseDir: dir },
  );

  it('points every variable holding a NATS URL at the given server, and only those', () => {
    const pointed = pointNatsAt(system, 'nats://127.0.0.1:25000', 'distributed');
    const plan = pointed.plan('distributed');
    const env = (service: string) => plan.services.find((s) => s.name === service)?.instances[0]?.env;
    assert.deepEqual(env('a'), {
      BROKER: 'nats://127.0.0.1:25000',
      LOG: 'info',
      FLOTILLA_TRANSPORT: 'nats://127.0.0.1:25000',
      NOTE: 'tcp://elsewhere:1',
    });
    assert.deepEqual(env('b'), {
      BROKER: 'nats://127.0.0.1:25000',
      FLOTILLA_TRANSPORT: 'nats://127.0.0.1:25000',
      OWN: 'nats://127.0.0.1:25000',
    });
  });

  it('refuses a system that names no NATS server under the profile', () => {
    const plain = validateSystem(
      { name: 'plain', services: [{ name: 'a', entry: 'svc/main.js', port: 7001 }] },
      { baseDir: dir },
    );
    assert.throws(
      () => pointNatsAt(plain, 'nats://127.0.0.1:25000', undefined),
      /no environment variable of plain holds a nats:\/\/ URL to point at the run's NATS server; choose the profile that uses NATS \(--profile\)/,
    );
  });
});
