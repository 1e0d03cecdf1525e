import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapEnvValues } from './infra-env.js';
import { ChaosInfraError } from './infra-errors.js';
import type { System, SystemPlan } from './validate-system.js';

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /**
   * The `nats-server` program: a path, or a name looked up on `PATH`.
   * @default 'nats-server'
   */
  readonly binary?: string;
  /**
   * The port on 127.0.0.1. It stays the same across restarts, so clients reconnect to it.
   * @default a free port below the usual ephemeral range (see {@link pickStablePort})
   */
  readonly port?: number;
  /**
   * The JetStream store directory; it stays the same across restarts, so streams, consumers and
   * messages survive them.
   * @default a new temporary directory, removed by `close()`
   */
  readonly storeDir?: string;
  /**
   * How long to wait for the server to accept clients after each start, in milliseconds.
   * @default 20000
   */
  readonly readyTimeoutMs?: number;
  /** Receives the server's output, each line prefixed with `[nats-server] `. @default discarded */
  readonly write?: (chunk: string) => void;
}

/** A NATS server with JetStream that this process started and owns; see {@link startNatsServer}. */
export interface OwnedNatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory. */
  readonly storeDir: string;
  /** True while the server process runs (false between `stop()` and `start()`). */
  readonly running: boolean;
  /**
   * Stops the server (SIGTERM; SIGKILL after 10 s): its clients are disconnected and start
   * reconnecting. Resolves `false` when it was not running.
   */
  stop(): Promise<boolean>;
  /**
   * Starts it again on the same port and store and resolves once it accepts clients, with the
   * milliseconds that took. Resolves `undefined` when it was already running.
   */
  start(): Promise<number | undefined>;
  /** Stops it for good and removes the store directory when it was a temporary one. */
  close(): Promise<void>;
}

/**
 * Starts a NATS server with JetStream (`nats-server -a 127.0.0.1 -p <port> -js -sd <store>`)
 * owned by the caller, who may stop and start it again — which must never be done to a server
 * others share. Resolves once it accepts clients.
 *
 * @example
 * const nats = await startNatsServer();
 * await nats.stop();   // clients see the connection drop and reconnect…
 * await nats.start();  // …to the same port, with the JetStream state of before
 * await nats.close();
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<OwnedNatsServer> {
  const binary = options.binary ?? 'nats-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'flotilla-nats-'));
  const port = options.port ?? (await pickStablePort());
  const write = options.write;
  // Its name, which its INFO line repeats: another server on the port (this one failing to bind
  // it) must not pass for this one.
  const name = `flotilla-chaos-${randomBytes(6).toString('hex')}`;
  let child: ChildProcess | undefined;
  let closed = false;
  const onExit = (): void => {
    child?.kill('SIGKILL');
  };
  // A server left behind by a process that ended abruptly would hold the port for nobody.
  process.once('exit', onExit);

  const launch = async (): Promise<number> => {
    const started = Date.now();
    const proc = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, '-n', name], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString();
      output = (output + text).slice(-4_000);
      if (write !== undefined)
        write(
          text
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => `[nats-server] ${l}\n`)
            .join(''),
        );
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let exited: string | undefined;
    proc.once('error', (err) => {
      exited = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${binary} not found` : err.message;
    });
    proc.once('exit', (code, signal) => {
      exited ??= `exited with ${signal ?? `code ${code}`}`;
      if (child === proc) child = undefined;
    });
    const deadline = started + readyTimeoutMs;
    for (;;) {
      if (exited !== undefined)
        throw new ChaosInfraError(
          `nats-server on 127.0.0.1:${port} did not start: ${exited}${output === '' ? '' : `\n${output.trim()}`}`,
        );
      if (await answersAs(port, name)) return Date.now() - started;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new ChaosInfraError(
          `nats-server on 127.0.0.1:${port} did not accept clients within ${readyTimeoutMs} ms\n${output.trim()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stop = async (): Promise<boolean> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return false;
    const exit = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
    return true;
  };

  try {
    await launch();
  } catch (err) {
    process.off('exit', onExit);
    if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get running() {
      return child !== undefined;
    },
    stop,
    async start() {
      if (closed) throw new ChaosInfraError('the NATS server was closed');
      if (child !== undefined) return undefined;
      return launch();
    },
    async close() {
      if (closed) return;
      closed = true;
      await stop();
      process.off('exit', onExit);
      if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** True when the NATS server named `name` answers on 127.0.0.1:`port` (its first line is `INFO {…}`). */
function answersAs(port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const end = data.indexOf('\n');
      if (end < 0) return;
      try {
        const info = JSON.parse(data.slice(5, end)) as { server_name?: unknown };
        done(data.startsWith('INFO ') && info.server_name === name);
      } catch {
        done(false);
      }
    });
  });
}

/**
 * A port on 127.0.0.1 that is free now, drawn from 20000–32767: below Linux's ephemeral range
 * (32768–60999), from which the kernel hands out `listen(0)` ports and other programs pick
 * "free ports". A server that is down between a stop and a start leaves its port unused for a
 * while; outside that range, nobody else is likely to take it meanwhile.
 */
export async function pickStablePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new ChaosInfraError('found no free port in 20000–32767 for the NATS server');
}

/** True when a variable of an instance of `plan` holds a NATS URL ({@link pointNatsAt} has something to point). */
export function usesNats(plan: SystemPlan): boolean {
  return plan.services.some((s) => s.instances.some((i) => Object.values(i.env).some(isNatsUrl)));
}

/** True when `value` is a NATS server URL (or a comma-separated list of them). */
function isNatsUrl(value: string): boolean {
  return /^(?:nats|tls):\/\/[^,\s]+(?:,(?:nats|tls):\/\/[^,\s]+)*$/i.test(value.trim());
}

/**
 * A copy of `system` whose every environment variable holding a NATS URL (`nats://…`, or a
 * comma-separated list of them; in the system's, services', instances' and profiles' variables)
 * holds `url` instead: the system then uses the NATS server the caller started. Throws when no
 * variable of the services under `profile` holds one: the system would not use that server, and
 * restarting it would test nothing.
 */
export function pointNatsAt(system: System, url: string, profile: string | undefined): System {
  if (!usesNats(system.plan(profile)))
    throw new ChaosInfraError(
      `no environment variable of ${system.name}${profile === undefined ? '' : ` (profile ${profile})`} holds a nats:// URL to point at the run's NATS server${profile === undefined ? '; choose the profile that uses NATS (--profile)' : ''}`,
    );
  return mapEnvValues(system, (value) => (isNatsUrl(value) ? url : value));
}
