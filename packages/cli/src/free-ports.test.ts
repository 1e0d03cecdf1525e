import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePorts } from './free-ports.js';

function ephemeral(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return [low!, high!];
  } catch {
    return [32768, 60999];
  }
}

test('gives distinct ports outside the ephemeral range that can be listened on', async () => {
  const ports = await freePorts(20);
  assert.equal(ports.length, 20);
  assert.equal(new Set(ports).size, 20);
  const [low, high] = ephemeral();
  for (const port of ports) {
    assert.ok(port >= 1024 && port <= 65_535, String(port));
    assert.ok(port < low || port > high, `${port} is in the ephemeral range ${low}-${high}`);
  }
  // Released: each can be bound again.
  for (const port of ports) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  }
});
