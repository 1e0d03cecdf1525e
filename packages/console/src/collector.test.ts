import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Collector } from './collector.js';
import type { ConsoleHost, HostInstance } from './host.js';
import { Upstreams } from './upstream.js';

describe('Collector.refresh', () => {
  it('answers with a snapshot read after the call, not the one of a poll already in progress', async (t) => {
    // An instance whose answers wait until the test lets them go: a poll stays in progress.
    const held: ServerResponse[] = [];
    let holding = true;
    const answer = (res: ServerResponse) =>
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    let requested: () => void = () => {};
    const firstRequest = new Promise<void>((resolve) => {
      requested = resolve;
    });
    const server = createServer((_req, res) => {
      requested();
      if (holding) held.push(res);
      else answer(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    let restarts = 1;
    const instance = (): HostInstance => ({
      service: 'slow',
      instance: 0,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      pid: process.pid,
      state: 'ready',
      restarts,
      uptimeMs: 1,
      critical: true,
    });
    const host: ConsoleHost = {
      system: { name: 'one', profile: null },
      adminToken: 'a'.repeat(32),
      serviceKey: undefined,
      gateway: undefined,
      status: () => [instance()],
      act: async () => [],
      onEvent: () => ({ dispose: () => {} }),
    };
    const collector = new Collector({ host, upstreams: new Upstreams() });
    t.after(() => collector.close());

    const first = collector.refresh();
    await firstRequest; // the first poll has read the instances and waits on the instance
    restarts = 2;
    const second = collector.refresh();
    holding = false;
    for (const res of held.splice(0)) answer(res);

    const restartsIn = (snapshot: Awaited<typeof first>) =>
      snapshot.services.find((s) => s.service === 'slow')?.instances[0]?.restarts;
    assert.equal(restartsIn(await first), 1);
    assert.equal(restartsIn(await second), 2, 'the second refresh returned the poll that began before it');
  });
});
