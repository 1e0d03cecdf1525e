import type { Transport } from './transport.js';
import {
  type EmbeddedTransportOptions,
  embeddedTransport,
} from './transports/embedded/embedded-transport.js';
import { type MemoryTransportOptions, memoryTransport } from './transports/memory.js';
import { type NatsTransportOptions, natsTransport } from './transports/nats.js';

/** Transport settings that do not fit in a URL, per kind; only the one the URL names is used. */
export interface TransportFromUrlOptions {
  /** Options of `memory:`. */
  readonly memory?: MemoryTransportOptions;
  /** Options of `embedded:` (the path comes from the URL). */
  readonly embedded?: Omit<EmbeddedTransportOptions, 'path'>;
  /** Options of `nats://` (the servers come from the URL). */
  readonly nats?: Omit<NatsTransportOptions, 'servers'>;
}

/** Where the embedded log lives when `embedded:` names no path (relative to the working directory). */
export const DEFAULT_EMBEDDED_PATH = '.flotilla/data/bus.db';

/**
 * Opens the transport a configuration URL names, so one service runs on any of them:
 * - `memory:`: in-process (tests, one process);
 * - `embedded:` or `embedded:<path to bus.db>`: the SQLite log shared by the processes of one
 *   machine (default `.flotilla/data/bus.db`);
 * - `nats://host:port` (several servers separated by commas): NATS JetStream.
 *
 * @example
 * const transport = await transportFromUrl(process.env.EVENTS_URL ?? 'embedded:');
 * // later, after bus.close():
 * await transport.close();
 */
export async function transportFromUrl(
  url: string,
  options: TransportFromUrlOptions = {},
): Promise<Transport> {
  if (typeof url !== 'string')
    throw new TypeError(`transportFromUrl(url) needs a string such as 'embedded:', got ${typeof url}`);
  if (typeof options !== 'object' || options === null)
    throw new TypeError('transportFromUrl(url, options) options must be an object');
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      if (trimmed.slice('memory:'.length).replace(/^\/\//, '') !== '')
        throw new RangeError(
          `transportFromUrl: memory: takes nothing after the colon, got ${JSON.stringify(url)}`,
        );
      return memoryTransport(options.memory ?? {});
    case 'embedded': {
      const rest = trimmed.slice('embedded:'.length);
      const path = rest.startsWith('//') ? rest.slice(2) : rest;
      return embeddedTransport({ ...options.embedded, path: path === '' ? DEFAULT_EMBEDDED_PATH : path });
    }
    case 'nats': {
      const servers = trimmed.split(',').map((s) => s.trim());
      for (const server of servers)
        if (!/^nats:\/\/[^\s/?#]+(?::\d+)?\/?$/i.test(server))
          throw new RangeError(
            `transportFromUrl: ${JSON.stringify(server)} is not a NATS server URL like nats://127.0.0.1:4222`,
          );
      return natsTransport({ ...options.nats, servers: servers.length === 1 ? servers[0]! : servers });
    }
    default:
      throw new RangeError(
        `transportFromUrl: unknown transport URL ${JSON.stringify(url)}; use memory:, embedded:<path> or nats://host:port`,
      );
  }
}
