/**
 * The logging a store does: migrations applied, unknown applied migrations, idle-connection
 * errors. A subset of pino's API, so a pino logger (or a child of one) fits as is.
 */
export interface StoreLogger {
  /** Routine events: the store opened, a migration applied. */
  info(obj: Record<string, unknown>, msg: string): void;
  /** Tolerated surprises: migrations in the database that this code does not know. */
  warn(obj: Record<string, unknown>, msg: string): void;
  /** Failures nobody awaits: an idle pooled connection that died. */
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Used when no logger is given: stays quiet about routine events but still surfaces warnings
 * and errors (an idle PostgreSQL connection dropped, say) through Node's process warnings,
 * rather than swallowing them.
 */
export const warningLogger: StoreLogger = {
  info() {},
  warn(obj, msg) {
    process.emitWarning(msg, { code: 'FLOTILLA_STORE', detail: safeJson(obj) });
  },
  error(obj, msg) {
    process.emitWarning(msg, { code: 'FLOTILLA_STORE', detail: safeJson(obj) });
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
