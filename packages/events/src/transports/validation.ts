import type { DeliveryHandler, SubscribeOptions, TransportMessage } from '../transport.js';

const TOPIC = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const GROUP = /^[A-Za-z0-9_.-]{1,100}$/;
const HEADER_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const LINE_BREAK = /[\r\n]/;
const RESERVED_HEADER = /^(?:nats-|flotilla-)/i;

/** Subscribe options with defaults applied and checked (internal). */
export interface ResolvedSubscription {
  readonly group: string;
  readonly topics: ReadonlySet<string>;
  readonly startAt: 'new' | 'beginning';
  readonly concurrency: number;
  readonly ackWaitMs: number;
}

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** Throws a RangeError naming `field` unless `value` is an integer within [min, max]. */
export function checkInteger(
  field: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new RangeError(
      `${field} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got ${show(value)}`,
    );
  return value;
}

/** Throws a RangeError naming `field` unless `value` is a finite number > 0 (or +Infinity when allowed). */
export function checkDuration(field: string, value: unknown, allowInfinity = false): number {
  if (
    typeof value !== 'number' ||
    !(value > 0) ||
    (!Number.isFinite(value) && !(allowInfinity && value === Number.POSITIVE_INFINITY))
  )
    throw new RangeError(
      `${field} must be a ${allowInfinity ? 'number' : 'finite number'} > 0, got ${show(value)}`,
    );
  return value;
}

/** Checks a topic name (also used to build NATS subjects, so no empty segments). */
export function checkTopic(field: string, topic: unknown): string {
  if (typeof topic !== 'string' || topic.length > 200 || !TOPIC.test(topic))
    throw new RangeError(
      `${field} must be letters, digits, '_', '-' and '.' between non-empty segments (at most 200), got ${show(topic)}`,
    );
  return topic;
}

/** Checks subscribe options and applies the defaults of {@link SubscribeOptions}. */
export function resolveSubscription(
  options: SubscribeOptions,
  handler: DeliveryHandler,
): ResolvedSubscription {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('subscribe options must be an object');
  if (typeof handler !== 'function')
    throw new TypeError(`subscribe handler must be a function, got ${typeof handler}`);
  const { group, topics, startAt = 'new', concurrency = 16, ackWaitMs = 30_000 } = options;
  if (typeof group !== 'string' || !GROUP.test(group))
    throw new RangeError(
      `subscribe.group must be 1 to 100 letters, digits, '_', '-' or '.', got ${show(group)}`,
    );
  if (!Array.isArray(topics) || topics.length === 0)
    throw new RangeError(`subscribe.topics must be a non-empty array of topics, got ${show(topics)}`);
  for (let i = 0; i < topics.length; i++) checkTopic(`subscribe.topics[${i}]`, topics[i]);
  if (startAt !== 'new' && startAt !== 'beginning')
    throw new RangeError(`subscribe.startAt must be 'new' or 'beginning', got ${show(startAt)}`);
  checkInteger('subscribe.concurrency', concurrency, 1, 10_000);
  checkDuration('subscribe.ackWaitMs', ackWaitMs);
  return { group, topics: new Set(topics), startAt, concurrency, ackWaitMs };
}

/** Checks every message of a publish call; throws naming the first bad field. */
export function checkMessages(messages: readonly TransportMessage[]): void {
  if (!Array.isArray(messages))
    throw new TypeError(`publish(messages) needs an array, got ${show(messages)}`);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) throw new TypeError(`publish: messages[${i}] must be an object`);
    if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 256 || LINE_BREAK.test(m.id))
      throw new RangeError(
        `publish: messages[${i}].id must be 1 to 256 characters without line breaks, got ${show(m.id)}`,
      );
    checkTopic(`publish: messages[${i}].topic`, m.topic);
    if (typeof m.key !== 'string' || m.key.length === 0 || m.key.length > 1024 || LINE_BREAK.test(m.key))
      throw new RangeError(
        `publish: messages[${i}].key must be 1 to 1024 characters without line breaks, got ${show(m.key)}`,
      );
    if (!(m.payload instanceof Uint8Array))
      throw new TypeError(`publish: messages[${i}].payload must be a Uint8Array, got ${typeof m.payload}`);
    if (m.headers !== undefined) {
      if (typeof m.headers !== 'object' || m.headers === null)
        throw new TypeError(`publish: messages[${i}].headers must be an object of strings`);
      for (const [name, value] of Object.entries(m.headers)) {
        if (!HEADER_NAME.test(name) || RESERVED_HEADER.test(name))
          throw new RangeError(
            `publish: messages[${i}].headers has the name ${show(name)}; names are letters, digits, '-', '_', '.' and must not start with 'Nats-' or 'Flotilla-'`,
          );
        if (typeof value !== 'string' || LINE_BREAK.test(value))
          throw new RangeError(
            `publish: messages[${i}].headers[${show(name)}] must be a string without line breaks`,
          );
      }
    }
  }
}

/** Rejects with the signal's reason when it is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}
