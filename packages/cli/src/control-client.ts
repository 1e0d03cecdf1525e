import { request } from 'undici';
import { ControlApiError, SystemNotRunningError } from './errors.js';
import { readLiveLock } from './lock-file.js';
import { readSecrets } from './secrets-file.js';
import type { InstanceStatus } from './supervisor-events.js';
import type { ServiceAction, TargetOptions } from './system-control.js';

/** What `GET /services` answers. */
export interface ServicesResponse {
  readonly system: string;
  readonly profile: string | null;
  readonly services: InstanceStatus[];
}

/** A client of a running supervisor's control API. */
export interface ControlClient {
  /** The control API's base URL. */
  readonly url: string;
  /** The supervisor's process id. */
  readonly pid: number;
  /** `GET /services`. */
  services(options?: { signal?: AbortSignal }): Promise<ServicesResponse>;
  /** `POST /services/:name/:action`; resolves with the status of the instances it touched. */
  act(
    action: ServiceAction,
    service: string,
    options?: TargetOptions & { signal?: AbortSignal },
  ): Promise<InstanceStatus[]>;
}

/**
 * Connects to the supervisor running `system`: its port comes from the lock file in the data
 * directory, its token from the secrets file. Throws {@link SystemNotRunningError} when no live
 * supervisor holds the data directory.
 *
 * @example
 * const client = connectControl(await loadSystem('flotilla.system.ts'));
 * await client.act('restart', 'payment');
 */
export function connectControl(system: { readonly name: string; readonly dataDir: string }): ControlClient {
  const lock = readLiveLock(system.dataDir);
  const token = readSecrets(system.dataDir)?.FLOTILLA_ADMIN_TOKEN;
  if (lock === undefined || token === undefined || lock.controlPort === 0)
    throw new SystemNotRunningError(
      `system "${system.name}" is not running (no live supervisor in ${system.dataDir}); start it with flotilla up`,
      system.dataDir,
    );
  const url = `http://127.0.0.1:${lock.controlPort}`;
  const call = async <T>(
    method: 'GET' | 'POST',
    path: string,
    signal: AbortSignal | undefined,
  ): Promise<T> => {
    const res = await request(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(signal === undefined ? {} : { signal }),
    });
    const body = (await res.body.json()) as T & { error?: { code: string; message: string } };
    if (res.statusCode >= 400)
      throw new ControlApiError(
        body.error?.message ?? `control API answered ${res.statusCode}`,
        res.statusCode,
        body.error?.code ?? 'UNKNOWN',
      );
    return body;
  };
  return {
    url,
    pid: lock.pid,
    services: (options = {}) => call<ServicesResponse>('GET', '/services', options.signal),
    async act(action, service, options = {}) {
      const query = options.instance === undefined ? '' : `?instance=${options.instance}`;
      const body = await call<{ services: InstanceStatus[] }>(
        'POST',
        `/services/${encodeURIComponent(service)}/${action}${query}`,
        options.signal,
      );
      return body.services;
    },
  };
}
