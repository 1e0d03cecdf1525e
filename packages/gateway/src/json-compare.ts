/**
 * Structural comparison of two HTTP responses for shadow traffic: status, media type, and the
 * bodies (JSON compared as values, anything else byte for byte), with JSON paths to ignore.
 *
 * Supported JSON path subset (for `shadow.ignore`):
 * - `$` the root; `.name` or `['name']` / `["name"]` an object member;
 * - `[3]` an array element; `.*` or `[*]` every member or element;
 * - `..name`, `..*`, `..[3]` recursive descent: the step at any depth below.
 * A path ignores the node it matches and everything under it. Filters (`[?()]`), slices
 * (`[0:2]`), unions (`[a,b]`) and negative indices are rejected with an error naming the path.
 */

/** One response captured for comparison (the body possibly truncated by the capturer). */
export interface CapturedResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Uint8Array;
}

/** One difference between the primary's and the candidate's response. */
export interface Difference {
  /**
   * Where: a JSON path into the body (`$.items[2].price`), or `status`, `content-type` or
   * `body` (a non-JSON body) for the response itself.
   */
  readonly path: string;
  /** The primary's value there; `undefined` when the primary has nothing at that path. */
  readonly primary: unknown;
  /** The candidate's value there; `undefined` when the candidate has nothing at that path. */
  readonly candidate: unknown;
}

/** A response as kept for inspection: its status and its body (parsed JSON, text, or a summary). */
export interface ResponseSnapshot {
  readonly status: number;
  readonly body: unknown;
}

/** The outcome of {@link compareResponses}. */
export interface ComparisonResult {
  /** True when nothing differs outside the ignored paths. */
  readonly match: boolean;
  /** The differences, keys sorted, at most {@link MAX_DIFFERENCES}. */
  readonly differences: readonly Difference[];
  /** The primary's response for mismatch samples (set by {@link compareResponses}). */
  readonly primary?: ResponseSnapshot;
  /** The candidate's response for mismatch samples (set by {@link compareResponses}). */
  readonly candidate?: ResponseSnapshot;
}

/** Differences reported per comparison; a body that differs everywhere is not worth more. */
export const MAX_DIFFERENCES = 100;

/** Bodies larger than this (bytes) are kept in samples as a preview, not whole. */
const SAMPLE_BODY_BYTES = 64 * 1024;
const PREVIEW_BYTES = 4096;

type Segment =
  | { readonly kind: 'key'; readonly name: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'any' }
  | { readonly kind: 'descend' };

/** A compiled JSON path (internal). */
export type CompiledPath = readonly Segment[];

/**
 * Compiles JSON paths of the supported subset, throwing a `TypeError` that names `field[i]`
 * and the path for anything else.
 */
export function compileJsonPaths(paths: readonly string[], field: string): CompiledPath[] {
  return paths.map((path, i) => {
    try {
      return compileJsonPath(path);
    } catch (err) {
      throw new TypeError(`${field}[${i}] ${JSON.stringify(path)}: ${(err as Error).message}`);
    }
  });
}

const NAME = /^[^.[\]\s'"*]+/;

function compileJsonPath(path: string): CompiledPath {
  if (typeof path !== 'string' || !path.startsWith('$'))
    throw new TypeError('a JSON path must start with "$"');
  const segments: Segment[] = [];
  let i = 1;
  while (i < path.length) {
    if (path.startsWith('..', i)) {
      segments.push({ kind: 'descend' });
      i += 2;
      if (i >= path.length) throw new TypeError('".." must be followed by a step');
      if (path[i] === '[') continue;
      i = dotStep(path, i, segments);
    } else if (path[i] === '.') {
      i = dotStep(path, i + 1, segments);
    } else if (path[i] === '[') {
      i = bracketStep(path, i, segments);
    } else {
      throw new TypeError(`unexpected ${JSON.stringify(path[i])} at offset ${i}`);
    }
  }
  return segments;
}

function dotStep(path: string, i: number, out: Segment[]): number {
  if (path[i] === '*') {
    out.push({ kind: 'any' });
    return i + 1;
  }
  const name = NAME.exec(path.slice(i))?.[0];
  if (name === undefined) throw new TypeError(`expected a member name at offset ${i}`);
  out.push({ kind: 'key', name });
  return i + name.length;
}

function bracketStep(path: string, i: number, out: Segment[]): number {
  const quote = path[i + 1];
  if (quote === "'" || quote === '"') {
    let name = '';
    let j = i + 2;
    for (; j < path.length && path[j] !== quote; j++) {
      if (path[j] === '\\') j++;
      name += path[j] ?? '';
    }
    if (path[j] !== quote || path[j + 1] !== ']')
      throw new TypeError(`unterminated quoted member at offset ${i}`);
    out.push({ kind: 'key', name });
    return j + 2;
  }
  const close = path.indexOf(']', i);
  if (close < 0) throw new TypeError(`unterminated "[" at offset ${i}`);
  const inner = path.slice(i + 1, close);
  if (inner === '*') out.push({ kind: 'any' });
  else if (/^(0|[1-9]\d*)$/.test(inner)) out.push({ kind: 'index', index: Number(inner) });
  else
    throw new TypeError(
      `unsupported selector [${inner}] (supported: [n], [*], ['name']; no filters, slices, unions or negative indices)`,
    );
  return close + 1;
}

type Step = string | number;

/** Whether `pattern` matches `path` or one of its ancestors (an ignored node hides its subtree). */
function matchesPrefix(pattern: CompiledPath, pi: number, path: readonly Step[], si: number): boolean {
  if (pi === pattern.length) return true;
  const seg = pattern[pi] as Segment;
  if (seg.kind === 'descend') {
    for (let j = si; j < path.length; j++) if (matchesPrefix(pattern, pi + 1, path, j)) return true;
    return false;
  }
  if (si === path.length) return false;
  const step = path[si] as Step;
  const ok =
    seg.kind === 'any' ||
    (seg.kind === 'key' && typeof step === 'string' && step === seg.name) ||
    (seg.kind === 'index' && typeof step === 'number' && step === seg.index);
  return ok && matchesPrefix(pattern, pi + 1, path, si + 1);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a concrete path: `$.items[2]['odd key']`. */
export function formatPath(path: readonly Step[]): string {
  let out = '$';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (IDENTIFIER.test(step)) out += `.${step}`;
    else out += `['${step.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}']`;
  }
  return out;
}

/**
 * Compares two JSON values: objects by key (sorted), arrays by index, numbers by value; a key or
 * element present on one side only is a difference with `undefined` on the other.
 */
export function compareJson(
  primary: unknown,
  candidate: unknown,
  ignore: readonly CompiledPath[],
): Difference[] {
  const differences: Difference[] = [];
  const path: Step[] = [];
  const ignored = (): boolean => ignore.some((p) => matchesPrefix(p, 0, path, 0));
  const walk = (a: unknown, b: unknown): void => {
    if (differences.length >= MAX_DIFFERENCES) return;
    if (ignore.length > 0 && ignored()) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      const length = Math.max(a.length, b.length);
      for (let i = 0; i < length; i++) {
        path.push(i);
        walk(a[i], b[i]);
        path.pop();
      }
      return;
    }
    if (isObject(a) && isObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const key of keys) {
        path.push(key);
        walk(Object.hasOwn(a, key) ? a[key] : undefined, Object.hasOwn(b, key) ? b[key] : undefined);
        path.pop();
      }
      return;
    }
    // Primitives (numbers already parsed, so 1.0 and 1 are equal), or values of different kinds.
    if (a !== b) differences.push({ path: formatPath(path), primary: a, candidate: b });
  };
  walk(primary, candidate);
  return differences;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const compiledCache = new WeakMap<readonly string[], CompiledPath[]>();

function compiled(ignore: readonly string[]): CompiledPath[] {
  let paths = compiledCache.get(ignore);
  if (paths === undefined) {
    paths = compileJsonPaths(ignore, 'ignore');
    compiledCache.set(ignore, paths);
  }
  return paths;
}

/** The media type without parameters, lowercased: `application/json`. */
function essence(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function isJsonType(mediaType: string): boolean {
  return /^(application|text)\/(?:[\w.-]+\+)?json$/.test(mediaType);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

function text(body: Uint8Array): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** Parsed JSON, or `NOT_JSON` when the body is empty or not JSON. */
const NOT_JSON = Symbol('not json');

function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) return NOT_JSON;
  const source = text(body);
  if (source === undefined) return NOT_JSON;
  try {
    return JSON.parse(source) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** A body as it appears in a sample or a `body` difference: parsed JSON, text, or a summary. */
function snapshotBody(body: Uint8Array, parsed: unknown): unknown {
  if (body.byteLength > SAMPLE_BODY_BYTES) {
    // A preview may cut a multi-byte character in two; the lenient decoder shows it as U+FFFD.
    return {
      truncated: true,
      bytes: body.byteLength,
      preview: lenientUtf8.decode(body.subarray(0, PREVIEW_BYTES)),
    };
  }
  if (parsed !== NOT_JSON) return parsed;
  const decoded = text(body);
  return decoded ?? { bytes: body.byteLength, base64: Buffer.from(body).toString('base64') };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/**
 * Compares status and bodies of the primary's and the candidate's response. Two bodies whose
 * media type is JSON (`application/json`, `application/*+json`) and that both parse are
 * compared as JSON values, ignoring the `ignore` paths; any other bodies byte for byte. A
 * different media type (parameters such as `charset` aside) is a difference of its own.
 *
 * @example
 * const result = compareResponses(legacyResponse, candidateResponse, ['$.generatedAt', '$.items[*].etag']);
 * if (!result.match) log.warn({ differences: result.differences }, 'shadow mismatch');
 */
export function compareResponses(
  primary: CapturedResponse,
  candidate: CapturedResponse,
  ignore: readonly string[],
): ComparisonResult {
  const differences: Difference[] = [];
  if (primary.status !== candidate.status)
    differences.push({ path: 'status', primary: primary.status, candidate: candidate.status });
  const typeA = essence(primary.contentType);
  const typeB = essence(candidate.contentType);
  if (typeA !== typeB)
    differences.push({
      path: 'content-type',
      primary: primary.contentType,
      candidate: candidate.contentType,
    });
  const jsonA = isJsonType(typeA) ? parseJson(primary.body) : NOT_JSON;
  const jsonB = isJsonType(typeB) ? parseJson(candidate.body) : NOT_JSON;
  const bodyA = snapshotBody(primary.body, jsonA);
  const bodyB = snapshotBody(candidate.body, jsonB);
  if (jsonA !== NOT_JSON && jsonB !== NOT_JSON) {
    differences.push(...compareJson(jsonA, jsonB, compiled(ignore)));
  } else if (!sameBytes(primary.body, candidate.body)) {
    differences.push({ path: 'body', primary: bodyA, candidate: bodyB });
  }
  const kept = differences.slice(0, MAX_DIFFERENCES);
  return {
    match: kept.length === 0,
    differences: kept,
    primary: { status: primary.status, body: bodyA },
    candidate: { status: candidate.status, body: bodyB },
  };
}
