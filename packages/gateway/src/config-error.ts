import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';

/** One problem of a configuration: where (`routes[2].split.weight`) and what. */
export interface ConfigIssue {
  /** The key's path in the configuration, `(root)` for the whole document, `(file)` for the file itself. */
  readonly path: string;
  /** What is wrong there, with the offending value when it is a scalar. */
  readonly message: string;
}

/**
 * Raised when a gateway configuration cannot be used: unreadable, not JSON, or invalid. Its
 * message lists every issue, one per line; `issues` has them as data (the admin API returns them).
 */
export class GatewayConfigError extends FlotillaError {
  override readonly name = 'GatewayConfigError';
  readonly retryable = false;

  constructor(
    /** Every problem found, in document order. */
    readonly issues: readonly ConfigIssue[],
    /** Where the configuration came from: a file path, `admin API`, `options.config`. */
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(
      'GATEWAY_CONFIG_INVALID',
      `gateway configuration from ${source} is invalid:\n  ${issues.map((i) => `${i.path}: ${i.message}`).join('\n  ')}`,
      options,
    );
  }
}

/** True when `err` is a {@link GatewayConfigError} (from any copy of this package). */
export function isGatewayConfigError(err: unknown): err is GatewayConfigError {
  return hasFlotillaCode(err, 'GATEWAY_CONFIG_INVALID');
}
