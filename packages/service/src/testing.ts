import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { RunningService, Service, StartOptions } from './define-service.js';
import { type EndUser, serviceTokens } from './tokens.js';

/** A random service key for tests, the same for every service started in this process. */
export const testServiceKey: string = randomBytes(32).toString('hex');

/**
 * Starts a service for a test on a free loopback port, quiet, with {@link testServiceKey}.
 * Close it in `after`/`t.after`.
 *
 * @example
 * const svc = await startForTest(greeter);
 * t.after(() => svc.close());
 * const res = await fetch(`${svc.url}/hello/ada`);
 */
export function startForTest<Deps>(
  service: Service<Deps>,
  options: StartOptions = {},
): Promise<RunningService<Deps>> {
  return service.start({
    port: 0,
    host: '127.0.0.1',
    serviceKey: testServiceKey,
    env: { FLOTILLA_LOG_LEVEL: 'silent', ...options.env },
    shutdownDelayMs: 0,
    ...options,
  });
}

/**
 * An `authorization` header value a test can send to `service` as if it were `caller`
 * (optionally on behalf of `user`), signed with {@link testServiceKey}.
 */
export async function testToken(service: string, caller = 'test', user?: EndUser): Promise<string> {
  const token = await serviceTokens({ service: caller, key: testServiceKey }).mint(service, user);
  return `Bearer ${token}`;
}

/**
 * A TCP port on `host` that was free a moment ago, for a process the test starts and that must
 * be told its port in advance (another process could take it in between; on loopback in a test
 * run that does not happen in practice).
 *
 * @example
 * const port = await freePort();
 * spawn(process.execPath, ['server.js'], { env: { ...process.env, PORT: String(port) } });
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port was assigned on ${host}`))));
    });
  });
}
