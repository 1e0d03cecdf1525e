// Checks the reference's table against the gateway configuration and the zod contracts: every
// route documented (and nothing else), every example's request and response parsed by its
// schema, every error an example shows listed for its route, every service error code in its
// contract's list. Each problem is one line naming the route and the example.
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig, RouteConfig } from '@flotilla/gateway';
import type { z } from 'zod';
import {
  type AggregateResponseDoc,
  type Caller,
  ErrorBody,
  type ErrorDoc,
  PartStatus,
  type RouteDoc,
  type RouteExample,
} from './api-docs-model.js';

/** The errors the gateway itself may answer, by the kind of route. */
export interface GatewayErrors {
  /** Any route. */
  readonly common: readonly ErrorDoc[];
  /** Routes that need a token. */
  readonly authenticated: readonly ErrorDoc[];
  /** Routes proxied to one upstream (not aggregates). */
  readonly proxied: readonly ErrorDoc[];
}

/** The scopes of the demo callers' tokens (what `POST /api/login` gives them). */
export const CALLER_SCOPES: Readonly<Record<Caller, readonly string[]>> = {
  anonymous: [],
  customer: ['orders:read', 'orders:write'],
  staff: ['orders:read', 'orders:write', 'catalog:write'],
};

/**
 * Codes @flotilla/service answers for every service besides its contract's own: invalid input,
 * and a dependency that failed (mapError).
 */
const PLATFORM_CODES: readonly string[] = [
  'VALIDATION_FAILED',
  'UPSTREAM_UNAVAILABLE',
  'BROKEN_CIRCUIT',
  'ISOLATED_CIRCUIT',
  'BULKHEAD_REJECTED',
  'TIMEOUT',
  'BAD_GATEWAY',
];

/** Statuses the gateway answers itself before a request reaches its upstream. */
const GATEWAY_FIRST: ReadonlySet<number> = new Set([401, 403, 429]);

/** The method of a route (the shop's routes name exactly one). */
export function methodOf(route: RouteConfig): string {
  const method = route.match.method;
  if (typeof method !== 'string') throw new TypeError(`route ${route.id} must match exactly one method`);
  return method;
}

/** The `:name` params of a route's path, in order. */
export function pathParams(route: RouteConfig): string[] {
  return [...route.match.path.matchAll(/\/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
}

/** The scopes a route needs; undefined for a public route. */
export function scopesOf(route: RouteConfig): readonly string[] | undefined {
  return route.auth === 'public' ? undefined : (route.auth?.scopes ?? []);
}

/** Every error a route may answer: its own, then the gateway's that apply to it. */
export function errorsOf(route: RouteConfig, doc: RouteDoc, gateway: GatewayErrors): ErrorDoc[] {
  return [
    ...doc.errors,
    ...(scopesOf(route) === undefined ? [] : gateway.authenticated),
    ...gateway.common,
    ...(route.aggregate === undefined ? gateway.proxied : []),
  ];
}

/** Problems with the table as a whole: routes missing, unknown or documented twice. */
export function checkCoverage(config: GatewayConfig, docs: readonly RouteDoc[]): string[] {
  const issues: string[] = [];
  const ids = new Set(config.routes.map((r) => r.id));
  const seen = new Set<string>();
  for (const doc of docs) {
    if (!ids.has(doc.id)) issues.push(`${doc.id}: documented, but the gateway has no such route`);
    if (seen.has(doc.id)) issues.push(`${doc.id}: documented twice`);
    seen.add(doc.id);
  }
  for (const route of config.routes)
    if (!seen.has(route.id))
      issues.push(`${route.id}: ${route.match.method ?? '*'} ${route.match.path} is not documented`);
  return issues;
}

/** Problems with one route's entry. */
export function checkRoute(route: RouteConfig, doc: RouteDoc, gateway: GatewayErrors): string[] {
  const issues: string[] = [];
  const say = (message: string) => issues.push(`${doc.id}: ${message}`);
  const listed = new Set<string>([
    ...PLATFORM_CODES,
    ...((doc.serviceErrorCodes?.options ?? []) as string[]),
  ]);
  for (const error of doc.errors)
    if (error.from === 'service' && !listed.has(error.code))
      say(`error ${error.code} is neither in the contract's error codes nor one of the platform's`);
  if (doc.response.kind === 'aggregate') {
    const configured = Object.keys(route.aggregate?.parts ?? {});
    if (!isDeepStrictEqual(Object.keys(doc.response.parts).sort(), [...configured].sort()))
      say(
        `parts ${Object.keys(doc.response.parts).join(', ')} differ from the gateway's ${configured.join(', ')}`,
      );
  }
  if (!doc.examples.some((e) => e.response.status === doc.response.status))
    say(`no example of the ${doc.response.status} answer`);
  const errors = errorsOf(route, doc, gateway);
  for (const example of doc.examples)
    for (const issue of checkExample(route, doc, example, errors))
      say(`example "${example.title}": ${issue}`);
  return issues;
}

function parseIssues(schema: z.ZodType, value: unknown, where: string): string[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map(
    (i) => `${[where, ...i.path.map(String)].filter((p) => p !== '').join('.')}: ${i.message}`,
  );
}

function checkExample(
  route: RouteConfig,
  doc: RouteDoc,
  example: RouteExample,
  errors: readonly ErrorDoc[],
): string[] {
  const issues: string[] = [];
  const { request, response } = example;
  const succeeded = response.status === doc.response.status;

  // What a request must be for the route to answer with success; an example that fails must
  // fail for a reason its error shows.
  const names = pathParams(route);
  if (!isDeepStrictEqual(Object.keys(request.params ?? {}), names))
    issues.push(
      `params ${JSON.stringify(request.params ?? {})} do not name ${names.join(', ') || 'nothing'}`,
    );
  const refused: string[] = [];
  if (doc.params !== undefined)
    refused.push(...parseIssues(doc.params.schema, request.params ?? {}, 'params'));
  if (doc.query !== undefined) refused.push(...parseIssues(doc.query.schema, request.query ?? {}, 'query'));
  else if (request.query !== undefined) issues.push('has a query, but the route takes none');
  if (doc.body !== undefined) refused.push(...parseIssues(doc.body.schema, request.body, 'body'));
  else if (request.body !== undefined) issues.push('has a body, but the route takes none');
  const sent = new Set(Object.keys(request.headers ?? {}).map((h) => h.toLowerCase()));
  for (const header of doc.headers ?? [])
    if (header.required && !sent.has(header.name.toLowerCase()) && succeeded)
      issues.push(`succeeds without the required header ${header.name}`);
  const code = (ErrorBody.safeParse(response.body).data?.error.code ?? '') as string;
  // The gateway answers 401/403/429 before any upstream reads the request; an aggregate's part
  // reports its upstream's refusal in its own terms (502 BAD_GATEWAY).
  const refusedAs =
    GATEWAY_FIRST.has(response.status) || (doc.response.kind === 'aggregate' && response.status >= 400)
      ? code
      : 'VALIDATION_FAILED';
  if (refused.length > 0 && code !== refusedAs)
    issues.push(`its request does not parse, so it must answer 400 VALIDATION_FAILED: ${refused.join('; ')}`);
  if (refused.length === 0 && code === 'VALIDATION_FAILED' && doc.response.kind !== 'aggregate')
    issues.push('answers VALIDATION_FAILED, but its request parses');

  const scopes = scopesOf(route);
  if (scopes === undefined && example.caller !== 'anonymous')
    issues.push('a public route ignores tokens: its examples are anonymous');
  if (scopes !== undefined) {
    if (example.caller === 'anonymous' && response.status !== 401)
      issues.push('an anonymous call of a protected route answers 401');
    const missing = scopes.filter((s) => !CALLER_SCOPES[example.caller].includes(s));
    if (example.caller !== 'anonymous' && missing.length > 0 && code !== 'INSUFFICIENT_SCOPE')
      issues.push(`the ${example.caller} lacks ${missing.join(', ')}: the answer is 403 INSUFFICIENT_SCOPE`);
  }

  if (succeeded) {
    if (doc.response.kind === 'contract')
      for (const ref of [doc.response.body, ...(doc.response.alsoChecked ?? [])])
        issues.push(...parseIssues(ref.schema, response.body, `response(${ref.name})`));
    else issues.push(...checkAggregateAnswer(route, doc.response, response.body, response.headers ?? {}));
    return issues;
  }
  const error = ErrorBody.safeParse(response.body);
  if (!error.success) return [...issues, ...parseIssues(ErrorBody, response.body, 'response')];
  const listed = errors.find((e) => e.code === error.data.error.code && e.status === response.status);
  if (listed === undefined)
    issues.push(`answers ${response.status} ${error.data.error.code}, which the route's errors do not list`);
  else if (listed.details !== undefined)
    issues.push(...parseIssues(listed.details, error.data.error.details, 'response.error.details'));
  return issues;
}

/**
 * Checks an aggregate answer part by part: each part that answered against its own contract,
 * each that failed holds its fallback, `parts` has a valid status for every part, and a partial
 * answer says so in `x-flotilla-partial`.
 */
export function checkAggregateAnswer(
  route: RouteConfig,
  doc: AggregateResponseDoc,
  body: unknown,
  headers: Readonly<Record<string, string>>,
): string[] {
  const parts = route.aggregate?.parts;
  if (parts === undefined) return [`route ${route.id} is not an aggregate`];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['response: not an object'];
  const answer = body as Record<string, unknown>;
  const issues: string[] = [];
  const names = Object.keys(parts);
  const keys = Object.keys(answer);
  for (const key of keys)
    if (key !== 'parts' && !names.includes(key)) issues.push(`response.${key}: not a part of the route`);
  const statuses = answer.parts;
  if (typeof statuses !== 'object' || statuses === null) return [...issues, 'response.parts: missing'];
  const failed: string[] = [];
  for (const [name, part] of Object.entries(parts)) {
    const status = PartStatus.safeParse((statuses as Record<string, unknown>)[name]);
    if (!status.success) {
      issues.push(
        ...parseIssues(PartStatus, (statuses as Record<string, unknown>)[name], `response.parts.${name}`),
      );
      continue;
    }
    if (!keys.includes(name)) issues.push(`response.${name}: missing`);
    if (status.data.status === 'ok') {
      const ref = doc.parts[name];
      if (ref !== undefined)
        issues.push(...parseIssues(ref.schema, answer[name], `response.${name}(${ref.name})`));
      continue;
    }
    failed.push(name);
    if (part.required)
      issues.push(`response.parts.${name}: a required part that failed fails the whole request`);
    const fallback = part.fallback === undefined ? null : part.fallback;
    if (!isDeepStrictEqual(answer[name], fallback))
      issues.push(`response.${name}: a failed part holds its fallback ${JSON.stringify(fallback)}`);
  }
  const partial = headers['x-flotilla-partial'];
  if (failed.length > 0 && partial !== failed.join(','))
    issues.push(`x-flotilla-partial must be "${failed.join(',')}", got ${JSON.stringify(partial)}`);
  if (failed.length === 0 && partial !== undefined) issues.push('x-flotilla-partial on a complete answer');
  return issues;
}

/** Every problem of the table: coverage first, then each route's entries in the gateway's order. */
export function checkApiDoc(
  config: GatewayConfig,
  docs: readonly RouteDoc[],
  gateway: GatewayErrors,
): string[] {
  const issues = checkCoverage(config, docs);
  for (const route of config.routes) {
    const doc = docs.find((d) => d.id === route.id);
    if (doc !== undefined) issues.push(...checkRoute(route, doc, gateway));
  }
  return issues;
}
