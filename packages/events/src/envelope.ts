import { z } from 'zod';
import { type AnyEventContract, type EventData, issuesOf } from './define-event.js';
import { EventValidationError } from './errors.js';

/**
 * An event as it travels: a CloudEvents 1.0 envelope in structured JSON mode, with the W3C
 * `traceparent` (CloudEvents distributed-tracing extension) and the data's `schemaversion`.
 * The transport topic is `type`; the ordering key is `subject` (the aggregate id).
 */
export interface EventEnvelope<Type extends string = string, Data = unknown> {
  /** Always `"1.0"`. */
  readonly specversion: '1.0';
  /** Unique event id; consumers deduplicate on it. */
  readonly id: string;
  /** The event type, e.g. `"OrderConfirmed"`. */
  readonly type: Type;
  /** The service that published it. */
  readonly source: string;
  /** The aggregate the event is about (e.g. the order id): the ordering key. */
  readonly subject: string;
  /** When it was published, RFC 3339 (`2025-01-31T12:00:00.000Z`). */
  readonly time: string;
  /** Always `"application/json"`. */
  readonly datacontenttype: 'application/json';
  /**
   * The schema version of `data`. For an event handed to a handler this is the contract's
   * current version (older data has been upcast); a dead letter keeps the envelope as received.
   */
  readonly schemaversion: number;
  /** The publishing span's W3C trace context, e.g. `00-<trace id>-<span id>-01`. */
  readonly traceparent?: string;
  /** The payload, valid against the contract's schema. */
  readonly data: Data;
}

/** The envelope a handler receives for contract `C`: a union over the contracts of a subscription. */
export type EventOf<C> = C extends AnyEventContract ? EventEnvelope<C['type'], EventData<C>> : never;

const envelopeSchema = z.looseObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(256),
  type: z.string().min(1).max(200),
  source: z.string().min(1).max(200),
  subject: z.string().min(1).max(1024),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json').optional(),
  schemaversion: z.number().int().min(1),
  traceparent: z.string().max(512).optional(),
  data: z.unknown(),
});

/** Serialises an envelope with its attributes in a fixed order. */
export function encodeEnvelope(envelope: EventEnvelope): string {
  return JSON.stringify({
    specversion: envelope.specversion,
    id: envelope.id,
    type: envelope.type,
    source: envelope.source,
    subject: envelope.subject,
    time: envelope.time,
    datacontenttype: envelope.datacontenttype,
    schemaversion: envelope.schemaversion,
    ...(envelope.traceparent === undefined ? {} : { traceparent: envelope.traceparent }),
    data: envelope.data,
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Text of a payload, or `undefined` when it is not valid UTF-8. */
export function payloadText(payload: Uint8Array): string | undefined {
  try {
    return decoder.decode(payload);
  } catch {
    return undefined;
  }
}

/**
 * Parses and checks a received envelope (not yet its data, which needs the contract). Throws
 * {@link EventValidationError} for anything that is not a CloudEvents JSON envelope of this shape,
 * or whose type differs from the topic it arrived on.
 */
export function decodeEnvelope(text: string | undefined, topic: string): EventEnvelope {
  if (text === undefined)
    throw new EventValidationError(topic, 'receive', [{ path: '', message: 'payload is not UTF-8 text' }]);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EventValidationError(
      topic,
      'receive',
      [{ path: '', message: `payload is not JSON (${(err as Error).message})` }],
      { cause: err },
    );
  }
  const result = envelopeSchema.safeParse(json);
  if (!result.success) throw new EventValidationError(topic, 'receive', issuesOf(result.error.issues, ''));
  const envelope = result.data;
  if (envelope.type !== topic)
    throw new EventValidationError(topic, 'receive', [
      { path: 'type', message: `is ${JSON.stringify(envelope.type)} but the message came on topic ${topic}` },
    ]);
  return {
    specversion: '1.0',
    id: envelope.id,
    type: envelope.type,
    source: envelope.source,
    subject: envelope.subject,
    time: envelope.time,
    datacontenttype: 'application/json',
    schemaversion: envelope.schemaversion,
    ...(envelope.traceparent === undefined ? {} : { traceparent: envelope.traceparent }),
    data: envelope.data,
  };
}
