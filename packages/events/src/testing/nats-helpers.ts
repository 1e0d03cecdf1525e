import { randomUUID } from 'node:crypto';
import { isCi } from '@flotilla/store/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** The NATS server tests use: `FLOTILLA_TEST_NATS_URL`, or `nats://127.0.0.1:4222`. */
export function testNatsUrl(): string {
  const fromEnv = process.env.FLOTILLA_TEST_NATS_URL;
  return fromEnv === undefined || fromEnv === '' ? 'nats://127.0.0.1:4222' : fromEnv;
}

const probes = new Map<string, Promise<string | undefined>>();

/**
 * The repository's rule for tests that need NATS JetStream: `undefined` when it answers at `url`;
 * otherwise a loud reason to skip, unless `CI` is set, in which case it throws (CI must never
 * pass by skipping).
 *
 * @example
 * const skip = await requireNats();
 * describe('on NATS', { skip }, () => { … });
 */
export async function requireNats(url: string = testNatsUrl()): Promise<string | undefined> {
  let probe = probes.get(url);
  if (probe === undefined) {
    probe = (async () => {
      try {
        // Under CI (where an absent server fails the run) a loaded machine gets more time.
        const nc = await connect({
          servers: url,
          timeout: process.env.CI ? 10_000 : 2000,
          maxReconnectAttempts: 0,
        });
        try {
          await (await jetstreamManager(nc)).getAccountInfo();
        } finally {
          await nc.close();
        }
        return undefined;
      } catch (err) {
        return `NATS JetStream not reachable at ${url} (start it, or set FLOTILLA_TEST_NATS_URL): ${String(err)}`;
      }
    })();
    probes.set(url, probe);
  }
  const reason = await probe;
  if (reason !== undefined && isCi())
    throw new Error(`${reason}; CI is set, so tests that need NATS fail instead of skipping`);
  return reason;
}

/** A JetStream stream and subject prefix of a test's own. */
export interface PrivateStream {
  readonly servers: string;
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Deletes the stream (and its consumers). */
  remove(): Promise<void>;
}

/** Names a stream and subject prefix unique to one test; the transport creates the stream. */
export function privateStream(servers: string = testNatsUrl()): PrivateStream {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  const stream = `FLOTILLA_EVENTS_TEST_${id}`;
  return {
    servers,
    stream,
    subjectPrefix: `flotilla_events_test.${id}`,
    remove: async () => {
      const nc = await connect({ servers, maxReconnectAttempts: 0 });
      try {
        await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      } finally {
        await nc.close();
      }
    },
  };
}
