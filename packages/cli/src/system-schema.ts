import { z } from 'zod';
import type { SystemProblem } from './errors.js';

/** Service (and profile) names: what `defineService` accepts. */
export const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[A-Z][A-Z0-9_]*$/;

const Name = z.string().regex(SERVICE_NAME, {
  error: 'must be lowercase letters, digits and dashes, starting with a letter (at most 63)',
});
const Port = z
  .int({ error: 'must be an integer from 1 to 65535' })
  .min(1, { error: 'must be an integer from 1 to 65535' })
  .max(65535, { error: 'must be an integer from 1 to 65535' });
const DurationMs = z
  .int({ error: 'must be a whole number of milliseconds' })
  .min(1, { error: 'must be >= 1' });
const Env = z.record(
  z.string().regex(ENV_NAME, { error: 'must be an environment variable name (letters, digits, _)' }),
  z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' }),
);
const Fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', {
  error: 'must be a function',
});

/** Names `ip netns add` accepts (no `/`, not `.` or `..`), as a file name under /run/netns. */
export const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const Host = z
  .string({ error: 'must be an IPv4 address like 10.0.0.2' })
  .regex(/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, {
    error: 'must be an IPv4 address like 10.0.0.2',
  })
  .refine((v) => v !== '0.0.0.0' && v !== '255.255.255.255', {
    error: 'must be the address the instance is reached at, not 0.0.0.0 or a broadcast address',
  });
const Netns = z.string({ error: 'must be a network namespace name' }).regex(NETNS_NAME, {
  error: 'must be a network namespace name (letters, digits, _ . -; at most 64, not starting with . or -)',
});
const placementFields = { host: Host.optional(), netns: Netns.optional() };

const Instance = z.strictObject({ port: Port, env: Env.optional(), ...placementFields });

const serviceFields = {
  entry: z.string({ error: 'must be a file path' }).min(1, { error: 'must be a file path' }),
  port: Port.optional(),
  instances: z.array(Instance).min(1, { error: 'must list at least one instance' }).optional(),
  env: Env.optional(),
  dependsOn: z.array(Name).optional(),
  critical: z.boolean().optional(),
  enabled: z.boolean().optional(),
  ...placementFields,
};

const Service = z.strictObject({ name: Name, ...serviceFields });
const ServiceOverride = z.strictObject({ ...serviceFields, entry: serviceFields.entry.optional() });
const Profile = z.strictObject({
  env: Env.optional(),
  services: z.record(z.string(), ServiceOverride).optional(),
});

const Restart = z.strictObject({
  initialDelayMs: DurationMs.optional(),
  maxDelayMs: DurationMs.optional(),
  resetAfterMs: DurationMs.optional(),
  maxStartFailures: z.int().min(1, { error: 'must be an integer >= 1' }).optional(),
});

/** The shape of a system definition (cross-field rules live in `validateSystem`). */
export const SystemSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().min(1, { error: 'must be a non-empty string' }),
  services: z.array(Service).min(1, { error: 'must list at least one service' }),
  dataDir: z.string().min(1, { error: 'must be a directory path' }).optional(),
  controlPort: z
    .int({ error: 'must be an integer from 0 to 65535' })
    .min(0, { error: 'must be an integer from 0 to 65535' })
    .max(65535, { error: 'must be an integer from 0 to 65535' })
    .optional(),
  gateway: Name.optional(),
  env: Env.optional(),
  secrets: z
    .array(z.string().regex(SECRET_NAME, { error: 'must be an upper-case variable name (A-Z, 0-9, _)' }))
    .optional(),
  profiles: z.record(Name, Profile).optional(),
  readyTimeoutMs: DurationMs.optional(),
  stopTimeoutMs: DurationMs.optional(),
  restart: Restart.optional(),
  banner: Fn.optional(),
  load: Fn.optional(),
});

/** Renders a path like zod's `['services', 1, 'port']` as `services[1].port`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) =>
      typeof part === 'number' ? `${acc}[${part}]` : acc === '' ? String(part) : `${acc}.${String(part)}`,
    '',
  );
}

/** Turns zod issues into problems that name the key, the expected form and the value found. */
export function schemaProblems(input: unknown, issues: readonly z.core.$ZodIssue[]): SystemProblem[] {
  const problems: SystemProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        problems.push({
          path: formatPath([...issue.path, key]),
          message: `unknown key${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; expected one of ${known.join(', ')}`,
        });
      }
      continue;
    }
    const message =
      issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    const got = issue.code === 'invalid_key' ? issue.path.at(-1) : valueAt(input, issue.path);
    problems.push({
      path: formatPath(issue.path) || '(root)',
      message: `${message}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`,
    });
  }
  return problems;
}

/** The keys the schema allows for the object at `path`. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: unknown = SystemSchema;
  for (const part of path) {
    schema = unwrap(schema);
    const def = (schema as { def: { type: string } }).def;
    if (def.type === 'object') schema = (schema as z.ZodObject).shape[String(part)];
    else if (def.type === 'array') schema = (schema as z.ZodArray).element;
    else if (def.type === 'record') schema = (schema as z.ZodRecord).valueType;
    else return [];
  }
  schema = unwrap(schema);
  const shape = (schema as Partial<z.ZodObject>).shape;
  return shape === undefined ? [] : Object.keys(shape).filter((k) => k !== '$schema');
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def: { type: string }; unwrap?: () => unknown };
  while (s.def.type === 'optional' && s.unwrap !== undefined) s = s.unwrap() as typeof s;
  return s;
}

/** The input value at `path`, for messages; only scalars are shown. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return typeof value === 'object' || typeof value === 'function' ? undefined : value;
}

/** The known key nearest to a misspelt one (edit distance at most 2). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
