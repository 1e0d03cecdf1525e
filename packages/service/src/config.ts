import type { z } from 'zod';

/** Raised when configuration from the environment is missing or malformed; names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';

  constructor(
    /** One entry per bad variable: `{ variable, message }`. */
    readonly problems: ReadonlyArray<{ readonly variable: string; readonly message: string }>,
    service?: string,
  ) {
    super(
      `invalid configuration${service === undefined ? '' : ` for service "${service}"`}:\n${problems
        .map((p) => `  ${p.variable}: ${p.message}`)
        .join('\n')}`,
    );
  }
}

/** An object schema whose keys are environment variable names. */
export type EnvSchema = z.ZodObject<z.ZodRawShape>;

/**
 * Reads typed configuration from environment variables. The schema's keys are the variable
 * names; values arrive as strings, so use `z.coerce.number()`, `z.stringbool()`, `z.url()`,
 * defaults, … Throws a {@link ConfigError} naming every bad variable — a service refuses to
 * start rather than half-start.
 *
 * @example
 * const config = loadConfig(z.object({
 *   PAYMENT_DECLINE_RATE: z.coerce.number().min(0).max(1).default(0),
 *   DATABASE_URL: z.string().default('sqlite:./data/payment.db'),
 * }));
 */
export function loadConfig<S extends EnvSchema>(
  schema: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
  service?: string,
): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable means "unset", as shells and .env files use it.
    input[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(config)');
      const got = input[variable];
      return {
        variable,
        message: `${issue.message}${got === undefined ? ' (not set)' : `, got ${JSON.stringify(redact(variable, got))}`}`,
      };
    }),
    service,
  );
}

/** Hides values of variables that look secret in error messages. */
function redact(variable: string, value: string): string {
  return /KEY|SECRET|TOKEN|PASSWORD/i.test(variable) ? '<redacted>' : value;
}
