import { randomBytes } from 'node:crypto';
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
