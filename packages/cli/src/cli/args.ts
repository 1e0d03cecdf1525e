import { type ParseArgsConfig, parseArgs } from 'node:util';
import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';

/** Raised for a command line that does not fit the command; `flotilla` exits 2. */
export class UsageError extends FlotillaError {
  override readonly name = 'UsageError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The command whose usage to point at, if known. */
    readonly command: string | undefined,
  ) {
    super('USAGE', message);
  }
}

/** True when `err` is a {@link UsageError}. */
export function isUsageError(err: unknown): err is UsageError {
  return hasFlotillaCode(err, 'USAGE');
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The result of {@link parseCommand}: option values by name, and the positional arguments. */
export interface ParsedCommand<O extends Options> {
  readonly values: { readonly [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };
  readonly positionals: readonly string[];
}

/** The streams and environment a command runs with. */
export interface CommandIO {
  readonly stdout: { write(chunk: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(chunk: string): unknown; readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/**
 * Parses a command's arguments with node:util `parseArgs` (strict), turning its errors into
 * {@link UsageError}s that name the command.
 */
export function parseCommand<const O extends Options>(
  command: string,
  args: readonly string[],
  options: O,
  maxPositionals: number,
): ParsedCommand<O> {
  const parsed = (() => {
    try {
      return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message, command);
    }
  })();
  if (parsed.positionals.length > maxPositionals)
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`, command);
  return parsed as unknown as ParsedCommand<O>;
}

/** Parses a whole number option (`--orders 100`); `name` is used in the message. */
export function integerOption(
  command: string,
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`, command);
  return n;
}
