/** Where the runner reports (a pino logger fits). */
export interface SagaLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Warnings and errors to `process.emitWarning`; info dropped (internal default). */
export const warningLogger: SagaLogger = {
  info: () => {},
  warn: (obj, msg) => process.emitWarning(`${msg} ${safeJson(obj)}`, 'FlotillaSagaWarning'),
  error: (obj, msg) => process.emitWarning(`${msg} ${safeJson(obj)}`, 'FlotillaSagaError'),
};

function safeJson(obj: Record<string, unknown>): string {
  try {
    return JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return '';
  }
}
