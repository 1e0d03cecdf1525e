import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { connectControl } from './control-client.js';
import { isControlApiError } from './errors.js';
import { fixtureEntry, freePorts, nextEvent, temporaryDirectory } from './fixtures/harness.js';
import { type RunningSystem, startSystem } from './start-system.js';
import type { InstanceStatus } from './supervisor-events.js';

describe('control API', () => {
  const tmp = temporaryDirectory();
  let running: RunningSystem;
  let base: string;
  let auth: { authorization: string };

  before(async () => {
    const [catalog, front0, front1] = await freePorts(3);
    running = await startSystem(
      {
        name: 'control',
        dataDir: join(tmp.dir, 'data'),
        controlPort: 0,
        restart: { initialDelayMs: 20 },
        services: [
          { name: 'catalog', entry: fixtureEntry('catalog.ts'), port: catalog! },
          {
            name: 'front',
            entry: fixtureEntry('ignores-sigterm.mjs'),
            instances: [{ port: front0! }, { port: front1! }],
          },
        ],
        stopTimeoutMs: 500,
      },
      { write: () => {}, colour: false, pretty: false, probeIntervalMs: 200 },
    );
    base = running.control.url;
    auth = { authorization: `Bearer ${running.control.token}` };
  });
  after(async () => {
    await running?.stop();
    tmp.remove();
  });

  const call = async (method: 'GET' | 'POST', path: string, headers: Record<string, string> = auth) => {
    const res = await request(`${base}${path}`, { method, headers });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: (await res.body.json()) as Record<string, unknown>,
    };
  };
  const states = (body: Record<string, unknown>): string[] =>
    (body.services as InstanceStatus[]).map((s) => `${s.service}[${s.instance}]=${s.state}`);

  it('listens on 127.0.0.1 with the admin token from the generated secrets', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(running.control.token, running.secrets.FLOTILLA_ADMIN_TOKEN);
  });

  it('answers 401 without the bearer token, or with a wrong one', async () => {
    const missing = await call('GET', '/services', {});
    assert.equal(missing.status, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="flotilla"');
    assert.equal((missing.body.error as { code: string }).code, 'UNAUTHORIZED');
    const wrong = await call('POST', '/services/catalog/stop', { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(running.services[0]?.state, 'ready', 'an unauthorised stop does nothing');
  });

  it('lists every instance with its pid, port, state, restarts and uptime', async () => {
    const { status, body } = await call('GET', '/services');
    assert.equal(status, 200);
    assert.equal(body.system, 'control');
    assert.equal(body.profile, null);
    const services = body.services as InstanceStatus[];
    assert.deepEqual(states(body), ['catalog[0]=ready', 'front[0]=ready', 'front[1]=ready']);
    for (const s of services) {
      assert.equal(typeof s.pid, 'number');
      assert.equal(s.url, `http://127.0.0.1:${s.port}`);
      assert.equal(s.restarts, 0);
      assert.ok(s.uptimeMs !== null && s.uptimeMs >= 0);
    }
  });

  it('stops a service, which stays stopped, and starts it again', async () => {
    const stopped = await call('POST', '/services/catalog/stop');
    assert.equal(stopped.status, 200);
    assert.deepEqual(states(stopped.body), ['catalog[0]=stopped']);
    // Stopped by the operator: no restart is scheduled.
    assert.equal(running.services[0]?.pid, null);
    assert.deepEqual(states((await call('GET', '/services')).body)[0], 'catalog[0]=stopped');
    const started = await call('POST', '/services/catalog/start');
    assert.equal(started.status, 200);
    assert.deepEqual(states(started.body), ['catalog[0]=ready']);
  });

  it('acts on one instance with ?instance=N', async () => {
    const frozen = await call('POST', '/services/front/freeze?instance=1');
    assert.deepEqual(states(frozen.body), ['front[1]=frozen']);
    assert.equal(running.services[1]?.state, 'ready');
    const thawed = await call('POST', '/services/front/thaw?instance=1');
    assert.deepEqual(states(thawed.body), ['front[1]=ready']);
  });

  it('restarts a service; a killed one is restarted by the supervisor', async () => {
    const before = running.services[0]!;
    const restarted = await call('POST', '/services/catalog/restart');
    assert.equal(restarted.status, 200);
    const after = (restarted.body.services as InstanceStatus[])[0]!;
    assert.equal(after.state, 'ready');
    assert.notEqual(after.pid, before.pid);

    const ready = nextEvent(
      running.control,
      (e) => e.type === 'state' && e.service === 'catalog' && e.state === 'ready',
    );
    const killed = await call('POST', '/services/catalog/kill');
    assert.equal(killed.status, 200);
    await ready;
    assert.equal(running.services[0]?.restarts, after.restarts + 1);
  });

  it('rejects unknown services, instances and actions, and commands that do not fit the state', async () => {
    const unknown = await call('POST', '/services/nope/stop');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { code: string }).code, 'UNKNOWN_SERVICE');
    const instance = await call('POST', '/services/front/stop?instance=2');
    assert.equal(instance.status, 404);
    assert.match(
      (instance.body.error as { message: string }).message,
      /has no instance 2 \(instances: 0-1\)/,
    );
    assert.equal((await call('POST', '/services/front/stop?instance=x')).status, 400);
    assert.equal((await call('POST', '/services/front/explode')).status, 404);
    assert.equal((await call('GET', '/services/front/stop')).status, 405);
    const notFrozen = await call('POST', '/services/catalog/thaw');
    assert.equal(notFrozen.status, 409);
    assert.equal((notFrozen.body.error as { code: string }).code, 'NOT_FROZEN');
  });

  it('streams state changes as Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await request(`${base}/events`, { headers: auth, signal: controller.signal });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const received: { event: string; data: Record<string, unknown> }[] = [];
    const done = (async () => {
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += String(chunk);
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (event !== undefined && data !== undefined) received.push({ event, data: JSON.parse(data) });
          if (received.some((r) => r.event === 'state' && r.data.state === 'ready')) return;
          end = buffer.indexOf('\n\n');
        }
      }
    })();
    // The snapshot comes first, so the command below happens after the stream is open.
    while (received.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await call('POST', '/services/front/restart?instance=0');
    await done;
    controller.abort();
    assert.equal(received[0]?.event, 'snapshot');
    const front = received
      .filter((r) => r.event === 'state' && r.data.service === 'front')
      .map((r) => `${r.data.previous}->${r.data.state}`);
    assert.deepEqual(front, ['ready->stopped', 'stopped->starting', 'starting->ready']);
    assert.ok(received.some((r) => r.event === 'exit' && r.data.expected === true));
  });

  it('is what the control client finds through the data directory', async () => {
    const client = connectControl(running.system);
    assert.equal(client.url, base);
    assert.equal(client.pid, process.pid);
    assert.deepEqual(
      (await client.services()).services.map((s) => s.service),
      ['catalog', 'front', 'front'],
    );
    await assert.rejects(client.act('stop', 'nope'), (err) => isControlApiError(err) && err.status === 404);
  });
});
