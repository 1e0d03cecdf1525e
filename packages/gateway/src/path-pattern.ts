/**
 * Route path patterns (`/api/v2/orders/:id`, `/legacy/*`) and rewrite templates, parsed once
 * when a configuration is compiled (internal).
 */

/** One segment of a pattern. */
export type PatternSegment =
  | { readonly kind: 'static'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string };

/** A parsed route path pattern. */
export interface ParsedPattern {
  readonly source: string;
  /** The segments before a trailing wildcard. */
  readonly segments: readonly PatternSegment[];
  /** True when the pattern ends with `/*` (the rest of the path is the `*` param). */
  readonly wildcard: boolean;
  /** Param names in order of appearance, `*` last when there is a wildcard. */
  readonly params: readonly string[];
}

/** Parses a pattern already checked by the config schema (starts with `/`, may end with `/*`). */
export function parsePattern(source: string): ParsedPattern {
  const wildcard = source === '/*' || source.endsWith('/*');
  const body = wildcard ? source.slice(0, -2) : source;
  const segments: PatternSegment[] = [];
  const params: string[] = [];
  // `/` alone has no segment; `/a/b` has two.
  if (body !== '' && body !== '/') {
    for (const part of body.slice(1).split('/')) {
      if (part.startsWith(':') && part.length > 1) {
        segments.push({ kind: 'param', name: part.slice(1) });
        params.push(part.slice(1));
      } else segments.push({ kind: 'static', value: part });
    }
  }
  if (wildcard) params.push('*');
  return { source, segments, wildcard, params };
}

/**
 * The pattern with param names erased (`/orders/:`), so two patterns that match exactly the same
 * paths compare equal.
 */
export function patternShape(pattern: ParsedPattern): string {
  const parts = pattern.segments.map((s) => (s.kind === 'static' ? s.value : ':'));
  return `/${parts.join('/')}${pattern.wildcard ? '/*' : ''}`;
}

/** A rewrite template compiled into literal text and param slots. */
export type RewritePiece =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'param'; readonly index: number }
  /** The wildcard's suffix, with its leading slash (empty when the path ended at the prefix). */
  | { readonly kind: 'rest' };

/** A compiled rewrite template. */
export interface RewriteTemplate {
  readonly source: string;
  readonly pieces: readonly RewritePiece[];
}

/**
 * Compiles a rewrite template against the pattern it rewrites: `:name` segments take the value
 * of the pattern's param of that name, a trailing `/*` the rest of the path. Returns a message
 * instead when the template uses what the pattern does not capture.
 */
export function compileRewrite(source: string, pattern: ParsedPattern): RewriteTemplate | string {
  const pieces: RewritePiece[] = [];
  const wildcard = source === '/*' || source.endsWith('/*');
  const body = wildcard ? source.slice(0, -2) : source;
  if (body.includes('*')) return `"*" may only end the template (as "/*"), got ${JSON.stringify(source)}`;
  let text = '';
  const parts = body === '' ? [] : body.slice(1).split('/');
  for (const part of parts) {
    text += '/';
    if (part.startsWith(':') && part.length > 1) {
      const name = part.slice(1);
      const index = pattern.params.indexOf(name);
      if (index < 0 || name === '*')
        return `uses :${name}, which the route's path ${JSON.stringify(pattern.source)} does not capture`;
      pieces.push({ kind: 'text', text });
      text = '';
      pieces.push({ kind: 'param', index });
    } else text += part;
  }
  if (wildcard) {
    if (!pattern.wildcard)
      return `ends with "/*", but the route's path ${JSON.stringify(pattern.source)} has no wildcard`;
    if (text !== '') pieces.push({ kind: 'text', text });
    pieces.push({ kind: 'rest' });
  } else {
    if (text === '' && parts.length === 0) text = '/';
    if (text !== '') pieces.push({ kind: 'text', text });
  }
  return { source, pieces };
}

/**
 * Fills a template. `values` are the matched params in pattern order (raw, still
 * percent-encoded); `rest` is the wildcard's suffix with its leading slash.
 */
export function applyRewrite(template: RewriteTemplate, values: readonly string[], rest: string): string {
  let out = '';
  for (const piece of template.pieces) {
    if (piece.kind === 'text') out += piece.text;
    else if (piece.kind === 'param') out += values[piece.index] as string;
    else out += rest;
  }
  return out === '' ? '/' : out;
}
