/**
 * The brand every Flotilla error carries. It is a registered symbol, so `isXxxError` guards
 * recognise errors created by another copy of this package (two versions in one tree).
 */
const BRAND = Symbol.for('flotilla.error.code');

/** Options shared by every Flotilla error. */
export interface FlotillaErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error Flotilla throws: a fixed `name`, a stable machine-readable `code`,
 * an optional `cause`, and whether retrying the same call later may succeed (`retryable`).
 */
export abstract class FlotillaError extends Error {
  /** Stable machine-readable code, e.g. `"BROKEN_CIRCUIT"`; safe to send over the wire. */
  readonly code: string;
  /** Whether the same call may succeed if tried again later. */
  abstract readonly retryable: boolean;

  constructor(code: string, message: string, options?: FlotillaErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, BRAND, { value: code, enumerable: false });
  }
}

/** True when `err` is a Flotilla error with the given code, from any copy of this package. */
export function hasFlotillaCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === code;
}

/** The Flotilla error code of `err`, or `undefined` when it is not a Flotilla error. */
export function flotillaCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as Record<symbol, unknown>)[BRAND];
  return typeof code === 'string' ? code : undefined;
}
