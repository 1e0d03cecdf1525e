import { type ParsedPattern, parsePattern } from './path-pattern.js';

/** The methods a route can match. */
export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A route as the router sees it: its pattern, its methods (`undefined`: every method), its payload. */
export interface RouterEntry<T> {
  readonly pattern: string;
  readonly methods: readonly string[] | undefined;
  readonly value: T;
}

/** A successful match. `values` are the segment params in pattern order, raw (still percent-encoded). */
export interface RouteHit<T> {
  readonly kind: 'hit';
  readonly value: T;
  readonly pattern: ParsedPattern;
  readonly values: readonly string[];
  /** The wildcard's suffix with its leading slash (`''` for `/api` against `/api/*`); `''` without a wildcard. */
  readonly rest: string;
}

/** What {@link Router.match} returns. */
export type RouteResult<T> =
  | RouteHit<T>
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

/** Finds the route of a request path. */
export interface Router<T> {
  /**
   * The most specific route matching `method` and `path` (a normalized path, without query).
   * Segments are compared left to right; where candidates differ, a static segment beats a
   * `:param`, which beats a trailing `/*`; at the same pattern, a route naming the method beats
   * one without methods. A path some route matches with other methods only is a 405.
   */
  match(method: string, path: string): RouteResult<T>;
}

const NOT_FOUND = { kind: 'not-found' } as const;
const NO_VALUES: readonly string[] = Object.freeze([]);

class Leaf<T> {
  constructor(
    readonly pattern: ParsedPattern,
    readonly methods: ReadonlySet<string> | undefined,
    readonly value: T,
  ) {}
}

class Node<T> {
  statics: Map<string, Node<T>> | undefined;
  param: Node<T> | undefined;
  /** Routes ending exactly here, method-specific ones first. */
  leaves: Leaf<T>[] = [];
  /** Routes whose wildcard starts here, method-specific ones first. */
  wildcards: Leaf<T>[] = [];
}

/** Compiles routes into a segment trie, once per configuration. */
export function createRouter<T>(entries: readonly RouterEntry<T>[]): Router<T> {
  const root = new Node<T>();
  // A path that only static routes can match is found with one map lookup.
  const exact = new Map<string, Leaf<T>[]>();
  for (const entry of entries) {
    const pattern = parsePattern(entry.pattern);
    const leaf = new Leaf(
      pattern,
      entry.methods === undefined ? undefined : new Set(entry.methods.map((m) => m.toUpperCase())),
      entry.value,
    );
    let node = root;
    for (const segment of pattern.segments) {
      if (segment.kind === 'static') {
        node.statics ??= new Map();
        let next = node.statics.get(segment.value);
        if (next === undefined) {
          next = new Node();
          node.statics.set(segment.value, next);
        }
        node = next;
      } else {
        node.param ??= new Node();
        node = node.param;
      }
    }
    insert(pattern.wildcard ? node.wildcards : node.leaves, leaf);
    if (!pattern.wildcard && pattern.params.length === 0) {
      const list = exact.get(pattern.source) ?? [];
      insert(list, leaf);
      exact.set(pattern.source, list);
    }
  }
  return new TrieRouter(root, exact);
}

/** Keeps method-specific leaves before catch-all ones, so the first that accepts a method is the most specific. */
function insert<T>(list: Leaf<T>[], leaf: Leaf<T>): void {
  if (leaf.methods === undefined) list.push(leaf);
  else {
    const firstCatchAll = list.findIndex((l) => l.methods === undefined);
    if (firstCatchAll < 0) list.push(leaf);
    else list.splice(firstCatchAll, 0, leaf);
  }
}

function accepts<T>(leaf: Leaf<T>, method: string): boolean {
  return leaf.methods === undefined || leaf.methods.has(method);
}

class TrieRouter<T> implements Router<T> {
  /** Methods of routes that matched the path but not the method, for a 405's `Allow`. */
  private allowed: Set<string> | undefined;
  private readonly values: string[] = [];

  constructor(
    private readonly root: Node<T>,
    private readonly exact: ReadonlyMap<string, Leaf<T>[]>,
  ) {}

  match(method: string, path: string): RouteResult<T> {
    const statics = this.exact.get(path);
    if (statics !== undefined)
      for (const leaf of statics)
        if (accepts(leaf, method)) return new Hit(leaf.value, leaf.pattern, NO_VALUES, '');
    this.allowed = undefined;
    this.values.length = 0;
    const hit = this.walk(this.root, method, path, path.length > 1 ? 1 : -1);
    if (hit !== undefined) return hit;
    const allowed = this.allowed as Set<string> | undefined;
    if (allowed === undefined) return NOT_FOUND;
    this.allowed = undefined;
    return { kind: 'method-not-allowed', allow: ROUTE_METHODS.filter((m) => allowed.has(m)) };
  }

  /** Depth-first search, most specific branch first; `pos` is where the next segment starts, -1 at the end. */
  private walk(node: Node<T>, method: string, path: string, pos: number): RouteHit<T> | undefined {
    if (pos < 0) {
      const leaf = this.pick(node.leaves, method);
      if (leaf !== undefined) return this.hit(leaf, '');
      const wild = this.pick(node.wildcards, method);
      return wild === undefined ? undefined : this.hit(wild, '');
    }
    let end = path.indexOf('/', pos);
    if (end < 0) end = path.length;
    const next = end === path.length ? -1 : end + 1;
    if (node.statics !== undefined) {
      const child = node.statics.get(path.slice(pos, end));
      if (child !== undefined) {
        const hit = this.walk(child, method, path, next);
        if (hit !== undefined) return hit;
      }
    }
    if (node.param !== undefined && end > pos) {
      this.values.push(path.slice(pos, end));
      const hit = this.walk(node.param, method, path, next);
      if (hit !== undefined) return hit;
      this.values.pop();
    }
    if (node.wildcards.length > 0) {
      const wild = this.pick(node.wildcards, method);
      if (wild !== undefined) return this.hit(wild, path.slice(pos - 1));
    }
    return undefined;
  }

  private pick(leaves: readonly Leaf<T>[], method: string): Leaf<T> | undefined {
    for (const leaf of leaves) if (accepts(leaf, method)) return leaf;
    if (leaves.length > 0) {
      this.allowed ??= new Set();
      for (const leaf of leaves) for (const m of leaf.methods ?? ROUTE_METHODS) this.allowed.add(m);
    }
    return undefined;
  }

  private hit(leaf: Leaf<T>, rest: string): RouteHit<T> {
    return new Hit(
      leaf.value,
      leaf.pattern,
      this.values.length === 0 ? NO_VALUES : this.values.slice(),
      rest,
    );
  }
}

/**
 * A match. A class, not an object literal: a request keeps its hit while in flight, and V8
 * pretenures literals whose objects outlive young collections (docs/gateway.md, "Why it is fast").
 */
class Hit<T> implements RouteHit<T> {
  readonly kind = 'hit' as const;

  constructor(
    readonly value: T,
    readonly pattern: ParsedPattern,
    readonly values: readonly string[],
    readonly rest: string,
  ) {}
}
