import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { type Clock, type RandomSource, systemClock, type TimerHandle } from '@flotilla/resilience';

/** The faults a {@link FaultProxy} applies; every one off is a plain pass-through. */
export interface ProxyFaults {
  /** Added to every chunk in each direction, in milliseconds. @default 0 */
  readonly latencyMs: number;
  /** Each chunk's latency is `latencyMs` ± up to `jitterMs` (uniform, never below 0), in milliseconds. @default 0 */
  readonly jitterMs: number;
  /** Bytes per second each connection may carry in each direction; 0 is unlimited. @default 0 */
  readonly bandwidthBytesPerSecond: number;
  /** Probability that a new connection is reset (RST) as soon as it is accepted, in [0, 1]. @default 0 */
  readonly resetProbability: number;
  /**
   * While true, new connections are accepted and never forwarded or answered, and data on current
   * ones is dropped; when it ends, the connections it touched are closed (their streams lost bytes).
   * @default false
   */
  readonly blackhole: boolean;
  /**
   * Fraction of new connections, in [0, 1], answered `503` with the standard JSON error body and
   * `connection: close` instead of being forwarded. With keep-alive it acts per connection, not
   * per request. @default 0
   */
  readonly errorRate: number;
}

/** No fault at all. */
export const NO_PROXY_FAULTS: ProxyFaults = {
  latencyMs: 0,
  jitterMs: 0,
  bandwidthBytesPerSecond: 0,
  resetProbability: 0,
  blackhole: false,
  errorRate: 0,
};

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The address the proxy forwards to (host default `127.0.0.1`). */
  readonly upstream: { readonly host?: string; readonly port: number };
  /**
   * The address the proxy listens on (a free port of it).
   * @default '127.0.0.1'
   */
  readonly listenHost?: string;
  /** Draws latency jitter and the reset and error decisions; pass a seeded one for reproducible runs. */
  readonly random: RandomSource;
  /** Times the delays of latency and bandwidth. @default systemClock */
  readonly clock?: Clock;
}

/** A TCP proxy (on 127.0.0.1 by default) in front of one upstream address, whose faults change at run time. */
export interface FaultProxy {
  /** The port the proxy listens on (on its `listenHost`). */
  readonly port: number;
  /** `http://<listenHost>:<port>`. */
  readonly url: string;
  /** The faults in force. */
  readonly faults: ProxyFaults;
  /** Connections open now. */
  readonly connections: number;
  /** Changes some faults; the others stay as they are. Latency and bandwidth apply to data that arrives from now on. */
  set(faults: Partial<ProxyFaults>): void;
  /** Ends every fault (closing the connections a blackhole touched). */
  clear(): void;
  /** Resets (RST) every open connection, on both sides; resolves the number reset. */
  resetConnections(): number;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/**
 * Starts a fault-injecting TCP proxy on 127.0.0.1 (or `listenHost`; a free port) in front of `upstream`.
 *
 * @example
 * const proxy = await startFaultProxy({ upstream: { port: 7104 }, random: seededRandom(1) });
 * proxy.set({ latencyMs: 200, jitterMs: 100 });
 * // … callers use proxy.url instead of http://127.0.0.1:7104 …
 * await proxy.close();
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const clock = options.clock ?? systemClock;
  const random = options.random;
  const host = options.upstream.host ?? '127.0.0.1';
  let faults: ProxyFaults = NO_PROXY_FAULTS;
  const open = new Set<Connection>();
  // Every accepted socket, forwarded or not: `close` must end them all for the server to close.
  const accepted = new Set<Socket>();

  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => {});
    accepted.add(client);
    client.on('close', () => accepted.delete(client));
    if (faults.resetProbability > 0 && random() < faults.resetProbability) {
      client.resetAndDestroy();
      return;
    }
    if (faults.errorRate > 0 && random() < faults.errorRate) {
      // Answering before the request arrives would confuse a client; answer its first bytes.
      client.once('data', () => client.end(errorResponse(`${host}:${options.upstream.port}`)));
      client.on('end', () => client.destroy());
      return;
    }
    const conn: Connection = { client, upstream: undefined, blackholed: false, lanes: [] };
    open.add(conn);
    client.on('close', () => {
      open.delete(conn);
      for (const lane of conn.lanes) lane.dispose();
      conn.upstream?.destroy();
    });
    if (faults.blackhole) {
      conn.blackholed = true;
      client.on('data', () => {});
      return;
    }
    const upstream = connect({ host, port: options.upstream.port, allowHalfOpen: true });
    conn.upstream = upstream;
    const toUpstream = new Lane(client, upstream, clock, random, () => faults);
    const toClient = new Lane(upstream, client, clock, random, () => faults);
    conn.lanes = [toUpstream, toClient];
    const forward = (lane: Lane) => (chunk: Buffer) => {
      if (faults.blackhole) conn.blackholed = true;
      else lane.push(chunk);
    };
    client.on('data', forward(toUpstream));
    upstream.on('data', forward(toClient));
    client.on('end', () => toUpstream.end());
    upstream.on('end', () => toClient.end());
    // An upstream that refuses (its process is down) shows as a reset, as close to a refused
    // connection as an accepted one can get.
    upstream.on('error', () => reset(client));
    upstream.on('close', () => {
      if (!toClient.ending) client.destroy();
    });
  });
  const listenHost = options.listenHost ?? '127.0.0.1';
  server.listen(0, listenHost);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const closeBlackholed = (): void => {
    for (const conn of open)
      if (conn.blackholed) {
        conn.client.destroy();
        conn.upstream?.destroy();
      }
  };
  return {
    port,
    url: `http://${listenHost}:${port}`,
    get faults() {
      return faults;
    },
    get connections() {
      return open.size;
    },
    set(next) {
      const wasBlackhole = faults.blackhole;
      faults = validate({ ...faults, ...next });
      if (wasBlackhole && !faults.blackhole) closeBlackholed();
    },
    clear() {
      const wasBlackhole = faults.blackhole;
      faults = NO_PROXY_FAULTS;
      if (wasBlackhole) closeBlackholed();
    },
    resetConnections() {
      const n = open.size;
      for (const conn of [...open]) {
        reset(conn.client);
        if (conn.upstream !== undefined) reset(conn.upstream);
      }
      return n;
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const conn of [...open]) conn.upstream?.destroy();
      for (const socket of [...accepted]) socket.destroy();
      await closed;
    },
  };
}

interface Connection {
  readonly client: Socket;
  upstream: Socket | undefined;
  blackholed: boolean;
  lanes: readonly Lane[];
}

/** One direction of a connection: delays chunks by latency and bandwidth, keeping their order. */
class Lane {
  private readonly queue: { data: Buffer | null; dueAt: number }[] = [];
  private timer: TimerHandle | undefined;
  /** No chunk may leave before this time: the previous one's, or when the bandwidth frees up. */
  private floor = 0;
  ending = false;

  constructor(
    private readonly source: Socket,
    private readonly target: Socket,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly faults: () => ProxyFaults,
  ) {}

  push(chunk: Buffer): void {
    const f = this.faults();
    if (f.latencyMs <= 0 && f.bandwidthBytesPerSecond <= 0 && this.queue.length === 0) {
      this.write(chunk);
      return;
    }
    const now = this.clock.now();
    const delay = Math.max(0, f.latencyMs + (this.random() * 2 - 1) * f.jitterMs);
    const rate = f.bandwidthBytesPerSecond;
    // Slices of a twentieth of a second's worth keep a slow link trickling instead of bursting.
    const size = rate > 0 ? Math.max(1, Math.floor(rate / 20)) : chunk.length;
    for (let at = 0; at < chunk.length; at += size) {
      const slice = chunk.subarray(at, at + size);
      const dueAt = Math.max(now + delay, this.floor);
      this.floor = rate > 0 ? dueAt + (slice.length * 1000) / rate : dueAt;
      this.queue.push({ data: slice, dueAt });
    }
    this.schedule();
  }

  /** Ends the target once everything queued has gone. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.target.end();
    else this.queue.push({ data: null, dueAt: this.floor });
  }

  dispose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private schedule(): void {
    const head = this.queue[0];
    if (this.timer !== undefined || head === undefined) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      Math.max(0, head.dueAt - this.clock.now()),
    );
  }

  private flush(): void {
    const now = this.clock.now();
    for (let head = this.queue[0]; head !== undefined && head.dueAt <= now; head = this.queue[0]) {
      this.queue.shift();
      if (head.data === null) this.target.end();
      else this.write(head.data);
    }
    this.schedule();
  }

  private write(chunk: Buffer): void {
    if (this.target.destroyed) return;
    if (!this.target.write(chunk) && !this.source.isPaused()) {
      this.source.pause();
      this.target.once('drain', () => this.source.resume());
    }
  }
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function errorResponse(upstream: string): string {
  const body = JSON.stringify({
    error: {
      code: 'UPSTREAM_UNAVAILABLE',
      message: `injected fault: the proxy in front of ${upstream} answered 503 instead of forwarding`,
      retryable: true,
    },
  });
  return [
    'HTTP/1.1 503 Service Unavailable',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

function validate(f: ProxyFaults): ProxyFaults {
  const check = (name: keyof ProxyFaults, ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`faults.${name} must be ${what}, got ${String(f[name])}`);
  };
  check('latencyMs', Number.isFinite(f.latencyMs) && f.latencyMs >= 0, 'a number >= 0');
  check('jitterMs', Number.isFinite(f.jitterMs) && f.jitterMs >= 0, 'a number >= 0');
  check(
    'bandwidthBytesPerSecond',
    Number.isFinite(f.bandwidthBytesPerSecond) && f.bandwidthBytesPerSecond >= 0,
    'a number >= 0',
  );
  check('resetProbability', f.resetProbability >= 0 && f.resetProbability <= 1, 'in [0, 1]');
  check('errorRate', f.errorRate >= 0 && f.errorRate <= 1, 'in [0, 1]');
  return f;
}
