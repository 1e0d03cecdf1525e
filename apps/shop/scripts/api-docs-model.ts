// The vocabulary of the shop's API reference: what the table in api-docs-table.ts says about each
// gateway route (its contract schemas, its errors, its examples), and the few schemas the
// reference needs that belong to the platform rather than to one service (the error body, the
// validation details, the aggregate's part status).
import type { AggregatePartStatus } from '@flotilla/gateway';
import { z } from 'zod';

/** A contract schema with the name it is exported under and the contracts file it comes from. */
export interface SchemaRef {
  readonly schema: z.ZodType;
  /** `OrderView`, or a short description for a route-local schema (`{ sku: ProductSku }`). */
  readonly name: string;
  /** The contracts file (`order-api.ts`), or the service file declaring a route-local schema. */
  readonly file: string;
  /** Per-field remarks the JSON Schema cannot carry (`skus` is comma-separated), by field path. */
  readonly notes?: Readonly<Record<string, string>>;
  /** Names of the members of a union, in order (`ProductBatch (with skus)`). */
  readonly alternatives?: readonly string[];
}

/** What {@link contract} adds to a contract schema. */
export interface SchemaRemarks {
  readonly notes?: Readonly<Record<string, string>>;
  readonly alternatives?: readonly string[];
}

/**
 * A schema exported by a contracts module, named by its export so the name in the reference is
 * checked by the compiler.
 *
 * @example
 * contract(orderApi, 'order-api.ts', 'OrderView')
 */
export function contract<M extends Record<string, unknown>, K extends keyof M & string>(
  module: M,
  file: string,
  name: K,
  remarks: SchemaRemarks = {},
): SchemaRef {
  const schema = module[name];
  if (!(schema instanceof z.ZodType)) throw new TypeError(`${file} ${name} is not a zod schema`);
  return { schema, name, file, ...remarks };
}

/** A request header a route reads. */
export interface HeaderDoc {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
}

/** Who answers an error: the gateway itself, or the upstream service (whose contract lists it). */
export type ErrorSource = 'gateway' | 'service';

/** An error a route can answer. */
export interface ErrorDoc {
  readonly status: number;
  readonly code: string;
  readonly when: string;
  readonly from: ErrorSource;
  /** The shape of `error.details`, when the error has one worth checking. */
  readonly details?: z.ZodType;
}

/** The response of a route answered by one upstream. */
export interface ContractResponse {
  readonly kind: 'contract';
  readonly status: number;
  readonly body: SchemaRef;
  /** Other names of the same body (the catalog's re-declaration of the monolith's product). */
  readonly alsoChecked?: readonly SchemaRef[];
}

/** The response of an aggregate route: one contract per part, the parts named by the gateway config. */
export interface AggregateResponseDoc {
  readonly kind: 'aggregate';
  readonly status: 200;
  readonly parts: Readonly<Record<string, SchemaRef>>;
}

/** What a route answers when it succeeds. */
export type ResponseDoc = ContractResponse | AggregateResponseDoc;

/** Whose token a request of an example carries. */
export type Caller = 'anonymous' | 'customer' | 'staff';

/** One real exchange with the gateway. */
export interface RouteExample {
  readonly title: string;
  readonly caller: Caller;
  readonly request: {
    readonly params?: Readonly<Record<string, string>>;
    readonly query?: Readonly<Record<string, string>>;
    /** Headers other than `authorization` (which `caller` decides) and `content-type`. */
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: unknown;
  };
  readonly response: {
    readonly status: number;
    /** Response headers worth showing (the rest are the same on every answer). */
    readonly headers?: Readonly<Record<string, string>>;
    readonly body: unknown;
  };
}

/** Everything the reference says about one gateway route, keyed by the route's id. */
export interface RouteDoc {
  readonly id: string;
  readonly title: string;
  /** What the route does (Markdown). */
  readonly description: string;
  readonly headers?: readonly HeaderDoc[];
  readonly params?: SchemaRef;
  readonly query?: SchemaRef;
  readonly body?: SchemaRef;
  readonly response: ResponseDoc;
  /** The contract's list of the service's error codes, when it has one. */
  readonly serviceErrorCodes?: z.ZodEnum;
  readonly errors: readonly ErrorDoc[];
  readonly examples: readonly RouteExample[];
}

/** The body of every error answer: `{ error: { code, message, details?, retryable } }`. */
export const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    message: z.string().min(1),
    details: z.unknown().optional(),
    retryable: z.boolean(),
  }),
});

/** `details` of a 400 `VALIDATION_FAILED`: one entry per field that failed. */
export const ValidationDetails = z
  .array(
    z.strictObject({
      location: z.enum(['body', 'query', 'params', 'headers']),
      /** The field's path, dot-separated (`items.0.quantity`); empty for the whole location. */
      field: z.string(),
      /** zod's issue code (`too_small`, `invalid_type`, `unrecognized_keys`, …). */
      code: z.string().min(1),
      message: z.string().min(1),
    }),
  )
  .min(1);

/** `details` of the error of an aggregate route whose required part failed. */
export const RequiredPartDetails = z.strictObject({
  route: z.string().min(1),
  part: z.string().min(1),
  service: z.string().min(1),
  status: z.enum(['unavailable', 'timeout', 'error', 'not_found', 'skipped']),
  code: z.string().min(1),
  upstreamStatus: z.number().int().exactOptional(),
});

/** How one part of an aggregate answer ended (the gateway's `AggregatePartStatus`). */
export const PartStatus = z.union([
  z.strictObject({ status: z.literal('ok') }),
  z.strictObject({
    status: z.enum(['unavailable', 'timeout', 'error', 'not_found', 'skipped']),
    code: z.string().min(1),
    message: z.string().min(1),
    upstreamStatus: z.number().int().exactOptional(),
  }),
]);

// PartStatus must describe exactly the gateway's type: a change there fails the type check here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const partStatusIsTheGateways: Same<z.infer<typeof PartStatus>, AggregatePartStatus> = true;
void partStatusIsTheGateways;
