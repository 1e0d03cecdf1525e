/**
 * What the bus logs: relay failures, retries, dead letters. A subset of pino's API, so a pino
 * logger (or a child of one) fits as is.
 */
export interface EventsLogger {
  /** Detail: duplicates ignored, relay batches. */
  debug(obj: Record<string, unknown>, msg: string): void;
  /** Routine events: bus started, relay became leader. */
  info(obj: Record<string, unknown>, msg: string): void;
  /** A handler failed and will be retried; an event was dead-lettered. */
  warn(obj: Record<string, unknown>, msg: string): void;
  /** Failures nobody awaits: the relay cannot reach the transport or the database. */
  error(obj: Record<string, unknown>, msg: string): void;
  /** A logger with extra bindings (pino's `child`), used for handlers' `ctx.log`. */
  child?(bindings: Record<string, unknown>): EventsLogger;
}

/**
 * Used when no logger is given: quiet about routine events, but warnings and errors still
 * surface through Node's process warnings instead of being swallowed.
 */
export const warningLogger: EventsLogger = {
  debug() {},
  info() {},
  warn(obj, msg) {
    process.emitWarning(msg, { code: 'FLOTILLA_EVENTS', detail: safeJson(obj) });
  },
  error(obj, msg) {
    process.emitWarning(msg, { code: 'FLOTILLA_EVENTS', detail: safeJson(obj) });
  },
};

function safeJson(obj: Record<string, unknown>): string {
  try {
    return JSON.stringify(obj, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : value,
    );
  } catch {
    return String(obj);
  }
}
