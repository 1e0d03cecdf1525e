// Helpers of the order crash tests (not a test file itself): the order service as a real child
// process (its own main.ts), and an HTTP proxy that holds one matching request until told to
// forward it, so a test can kill the order process while that call is in flight.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, testServiceKey } from '@flotilla/service/testing';

const here = dirname(fileURLToPath(import.meta.url));
const repositoryRoot = resolve(here, '../../../../..');
const orderMain = join(here, 'main.ts');

/** A free TCP port on 127.0.0.1 (free when asked; the order process binds it right after). */
export { freePort };

/** The order service running in a child process. */
export interface OrderProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr (for failure messages). */
  stderr(): string;
  /** Kills it with SIGKILL and resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `apps/shop/src/services/order/main.ts` in a child process with `env` (plus the test
 * service key and the port) and resolves once `/health/ready` answers 200.
 */
export async function startOrderProcess(env: Record<string, string>, port: number): Promise<OrderProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', orderMain], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env, FLOTILLA_SERVICE_KEY: testServiceKey, FLOTILLA_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const handle: OrderProcess = {
    url,
    child,
    stderr: () => stderr,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the order process exited before it was ready:\n${stderr}`);
    const ready = await fetch(`${url}/health/ready`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) return handle;
    if (Date.now() > until) {
      await handle.kill();
      throw new Error(`the order process did not become ready:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A proxy to one upstream that holds the first request matching a rule. */
export interface HoldingProxy {
  readonly url: string;
  /** Resolves when the matching request has arrived (and is being held). */
  readonly held: Promise<void>;
  /** Forwards the held request; resolves with the upstream's status once it answered. */
  release(): Promise<number>;
  close(): Promise<void>;
}

/** Starts a proxy to `target` that holds the first request for which `matches` is true. */
export async function holdingProxy(
  target: string,
  matches: (req: IncomingMessage) => boolean,
): Promise<HoldingProxy> {
  const upstream = new URL(target);
  let arrived: () => void = () => {};
  const held = new Promise<void>((done) => (arrived = done));
  let forward: (() => Promise<number>) | undefined;
  let taken = false;

  const pass = (
    req: IncomingMessage,
    body: Buffer,
    onStatus: (status: number) => void,
    res?: ServerResponse,
  ) =>
    new Promise<void>((done) => {
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            onStatus(answer.statusCode ?? 0);
            if (res !== undefined && !res.destroyed) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(chunks));
            }
            done();
          });
        },
      );
      out.on('error', () => {
        onStatus(0);
        if (res !== undefined && !res.destroyed) res.writeHead(502).end();
        done();
      });
      out.end(body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!taken && matches(req)) {
        taken = true;
        // The caller may be killed meanwhile: the request is still forwarded, as a network would.
        forward = () =>
          new Promise<number>((done) => {
            void pass(req, body, done, res);
          });
        arrived();
        return;
      }
      void pass(req, body, () => {}, res);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    held,
    release: async () => {
      await held;
      if (forward === undefined) throw new Error('nothing is held');
      return forward();
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
