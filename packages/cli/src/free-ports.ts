import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** Linux's range of ephemeral ports (`net.ipv4.ip_local_port_range`), or its usual default. */
function ephemeralRange(): readonly [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return [low!, high!];
  } catch {
    // Not Linux, or no /proc: assume the default.
  }
  return [32768, 60999];
}

/** The widest stretch of ports outside the ephemeral range, above 10000. */
function pickRange(): readonly [number, number] {
  const [low, high] = ephemeralRange();
  const below: [number, number] = [10_000, low - 1];
  const above: [number, number] = [high + 1, 65_535];
  return below[1] - below[0] >= above[1] - above[0] ? below : above;
}

function listen(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => resolve(true));
  });
}

/**
 * `count` distinct ports of `host` that were free a moment ago, for a copy of a system that runs
 * beside others (`flotilla chaos --free-ports`, tests). They are drawn at random from outside the
 * kernel's ephemeral range: a port the kernel hands out (`listen(0)`, or the local end of any
 * outgoing connection) could be taken again by the next outgoing connection before the service
 * that was meant to listen on it starts. All are held until every one is found, then released.
 *
 * @example
 * const [gateway, order] = await freePorts(2);
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const [from, to] = pickRange();
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries >= count * 50 + 100)
        throw new Error(
          `found only ${ports.length} of ${count} free ports between ${from} and ${to} on ${host}`,
        );
      const port = from + Math.floor(Math.random() * (to - from + 1));
      if (ports.includes(port)) continue;
      const server = createServer();
      if (await listen(server, port, host)) {
        held.push(server);
        ports.push(port);
      }
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
