import type { z } from 'zod';
import { EventValidationError, UnsupportedSchemaVersionError, type ValidationIssue } from './errors.js';
import { checkTopic } from './transports/validation.js';

/** Turns the data of one schema version into the data of the next version (`n` → `n + 1`). */
export type Upcaster = (data: unknown) => unknown;

/**
 * The contract of one event type: its name (the transport topic), the current schema version,
 * the zod schema of its data, and the upcasters that bring older versions' data up to date.
 * Producers and consumers share it (a package of contracts, or a copy per service).
 */
export interface EventContract<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  /** The event type, e.g. `"OrderConfirmed"`; also the transport topic. */
  readonly type: Type;
  /** The current schema version (an integer >= 1), written into every envelope as `schemaversion`. */
  readonly version: number;
  /** Validates `data` on publish and on receipt. */
  readonly schema: Schema;
  /** `upcast[n]` turns version-`n` data into version-`n + 1` data. */
  readonly upcast: Readonly<Record<number, Upcaster>>;
}

/** Any event contract. */
export type AnyEventContract = EventContract<string, z.ZodType>;

/** The data a handler receives for contract `C` (after validation and upcasting). */
export type EventData<C extends AnyEventContract> = z.output<C['schema']>;

/** The data `publish` accepts for contract `C` (before schema defaults and transforms). */
export type EventInput<C extends AnyEventContract> = z.input<C['schema']>;

/** Options of {@link defineEvent}. */
export interface DefineEventOptions<S extends z.ZodType> {
  /** The current schema version, an integer >= 1. Raise it when the data's shape changes. */
  readonly version: number;
  /** The zod schema of the current version's data. */
  readonly schema: S;
  /**
   * Upcasters by the version they start from: `{ 1: (v1) => v2, 2: (v2) => v3 }`. An event of an
   * older version is lifted step by step to the current one, then validated against `schema`.
   * A version without its upcaster cannot be read (the event is dead-lettered as malformed).
   * @default {}
   */
  readonly upcast?: Readonly<Record<number, Upcaster>>;
}

/**
 * Declares an event contract.
 *
 * @example
 * const OrderConfirmed = defineEvent('OrderConfirmed', {
 *   version: 2,
 *   schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
 *   // Version 1 carried the total in euros.
 *   upcast: { 1: (v1) => { const { total, ...rest } = v1 as { total: number }; return { ...rest, totalCents: Math.round(total * 100) }; } },
 * });
 */
export function defineEvent<const Type extends string, S extends z.ZodType>(
  type: Type,
  options: DefineEventOptions<S>,
): EventContract<Type, S> {
  checkTopic('defineEvent(type)', type);
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`defineEvent(${JSON.stringify(type)}) needs an options object { version, schema }`);
  const { version, schema, upcast = {} } = options;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
    throw new RangeError(
      `defineEvent(${JSON.stringify(type)}).version must be an integer >= 1, got ${String(version)}`,
    );
  if (typeof schema !== 'object' || schema === null || typeof schema.safeParse !== 'function')
    throw new TypeError(`defineEvent(${JSON.stringify(type)}).schema must be a zod schema`);
  if (typeof upcast !== 'object' || upcast === null)
    throw new TypeError(`defineEvent(${JSON.stringify(type)}).upcast must be an object of functions`);
  for (const [from, fn] of Object.entries(upcast)) {
    const n = Number(from);
    if (!Number.isInteger(n) || n < 1 || n >= version)
      throw new RangeError(
        `defineEvent(${JSON.stringify(type)}).upcast has key ${from}; keys are versions from 1 to ${version - 1}`,
      );
    if (typeof fn !== 'function')
      throw new TypeError(`defineEvent(${JSON.stringify(type)}).upcast[${from}] must be a function`);
  }
  return Object.freeze({ type, version, schema, upcast: Object.freeze({ ...upcast }) });
}

/** Validates data for publishing: the parsed (defaults applied) data, or an {@link EventValidationError}. */
export function validateForPublish<C extends AnyEventContract>(contract: C, data: unknown): EventData<C> {
  const result = contract.schema.safeParse(data);
  if (!result.success)
    throw new EventValidationError(contract.type, 'publish', issuesOf(result.error.issues, 'data'));
  return result.data as EventData<C>;
}

/**
 * Reads received data of `fromVersion`: lifts it through the upcasters to the current version
 * and validates it. Throws {@link EventValidationError} (poison) or
 * {@link UnsupportedSchemaVersionError} (newer than this contract; worth retrying).
 */
export function readEventData(contract: AnyEventContract, fromVersion: number, data: unknown): unknown {
  if (fromVersion > contract.version)
    throw new UnsupportedSchemaVersionError(contract.type, fromVersion, contract.version);
  let current = data;
  for (let v = fromVersion; v < contract.version; v++) {
    const step = contract.upcast[v];
    if (step === undefined)
      throw new EventValidationError(contract.type, 'receive', [
        {
          path: 'schemaversion',
          message: `no upcaster from version ${v} to ${v + 1} (the contract is at version ${contract.version})`,
        },
      ]);
    try {
      current = step(current);
    } catch (err) {
      throw new EventValidationError(
        contract.type,
        'receive',
        [
          {
            path: 'data',
            message: `upcaster from version ${v} failed: ${(err as Error)?.message ?? String(err)}`,
          },
        ],
        { cause: err },
      );
    }
  }
  const result = contract.schema.safeParse(current);
  if (!result.success)
    throw new EventValidationError(contract.type, 'receive', issuesOf(result.error.issues, 'data'));
  return result.data;
}

/** Flattens zod issues into at most 20 `{ path, message }` entries under `prefix`. */
export function issuesOf(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
  prefix: string,
): ValidationIssue[] {
  return issues.slice(0, 20).map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.'),
    message: issue.message,
  }));
}
