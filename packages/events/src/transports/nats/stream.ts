import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { IncompatibleTransportError } from '../errors.js';

/** The stream this transport needs (internal). */
export interface StreamSettings {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly partitions: number;
  readonly duplicateWindowMs: number;
  readonly maxAgeMs: number;
  readonly replicas: number;
}

const PARTITIONS_IN_DESCRIPTION = /\bpartitions=(\d+)\b/;

/** Attempts at creating a stream whose storage the server failed to create. */
const STORE_ATTEMPTS = 3;

/** JetStream's "error creating store for stream" (err_code 10077), a transient server-side failure. */
function isStoreCreationFailure(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: unknown }; message?: unknown } | null;
  return (
    e?.api_error?.err_code === 10077 ||
    (typeof e?.message === 'string' && /error creating store for stream/i.test(e.message))
  );
}

/**
 * Creates the stream, or checks and updates an existing one. Settings JetStream cannot change
 * in place (storage, retention) or that would misroute messages (subjects, partition count)
 * are refused with {@link IncompatibleTransportError}; limits (max age, duplicate window,
 * replicas) are updated to the configured values.
 */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<StreamInfo> {
  const desired = {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.maxAgeMs),
    duplicate_window: nanos(settings.duplicateWindowMs),
    num_replicas: settings.replicas,
    // JetStream 2.9 has no stream metadata; the description carries the partition count so
    // every instance can check it agrees.
    description: `Flotilla events: partitions=${settings.partitions}, subjects ${settings.subjectPrefix}.<partition>.<topic>`,
  } satisfies Partial<StreamConfig>;
  let info = await streamInfo(jsm, settings.stream);
  for (let attempt = 1; info === undefined; attempt++) {
    try {
      return await jsm.streams.add(desired);
    } catch (err) {
      // Another instance may have created it in between: then check what it made.
      info = await streamInfo(jsm, settings.stream);
      if (info !== undefined) break;
      // The server can fail to create a stream's storage while it removes the account's empty
      // stream directory (the last stream was just deleted): a moment later it succeeds.
      if (attempt >= STORE_ATTEMPTS || !isStoreCreationFailure(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
  const config = info.config;
  const refuse = (setting: string, expected: string, actual: string): never => {
    throw new IncompatibleTransportError('nats', `stream ${settings.stream}`, setting, expected, actual);
  };
  if (config.storage !== StorageType.File) refuse('storage', 'file', String(config.storage));
  if (config.retention !== RetentionPolicy.Limits) refuse('retention', 'limits', String(config.retention));
  if (!(config.subjects ?? []).includes(desired.subjects[0]!))
    refuse('subjects', desired.subjects[0]!, JSON.stringify(config.subjects ?? []));
  const partitions = PARTITIONS_IN_DESCRIPTION.exec(config.description ?? '')?.[1];
  if (partitions !== String(settings.partitions))
    refuse(
      'partitions',
      String(settings.partitions),
      partitions ?? `unknown (description ${JSON.stringify(config.description ?? '')})`,
    );
  if (
    config.max_age !== desired.max_age ||
    config.duplicate_window !== desired.duplicate_window ||
    config.num_replicas !== desired.num_replicas
  ) {
    info = await jsm.streams.update(settings.stream, {
      ...config,
      max_age: desired.max_age,
      duplicate_window: desired.duplicate_window,
      num_replicas: desired.num_replicas,
    });
  }
  return info;
}

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}
