// The admin token: it arrives in the URL fragment (`/console/#token=...`), is kept in
// sessionStorage for the tab's life and is removed from the address bar at once.

/** The sessionStorage key the token is kept under. */
export const TOKEN_KEY = 'flotilla.console.token';

/** What {@link takeToken} needs of `window`, so it can run on anything that looks like one. */
export interface TokenHost {
  readonly location: { readonly hash: string; readonly pathname: string; readonly search: string };
  readonly history: { replaceState(data: unknown, unused: string, url?: string): void };
  readonly sessionStorage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

/**
 * The token in a URL fragment, and the fragment without it: `#token=abc` → token `abc`, rest `''`;
 * `#/traces/1?token=abc` and `#token=abc&x=1` are understood too. `null` token when there is none.
 */
export function parseTokenFragment(hash: string): { token: string | null; rest: string } {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash;
  const query = fragment.indexOf('?');
  const [route, params] =
    query >= 0
      ? [fragment.slice(0, query), fragment.slice(query + 1)]
      : fragment.startsWith('/')
        ? [fragment, '']
        : ['', fragment];
  const search = new URLSearchParams(params);
  const token = search.get('token');
  search.delete('token');
  const left = search.toString();
  const rest = left === '' ? route : `${route}${route === '' ? '' : '?'}${left}`;
  return { token: token === null || token === '' ? null : token, rest };
}

/**
 * Takes the token out of the address bar (keeping it in sessionStorage) and returns the token to
 * use: the fragment's, else the one kept earlier in this tab, else `null`.
 */
export function takeToken(host: TokenHost): string | null {
  const { token, rest } = parseTokenFragment(host.location.hash);
  if (token !== null) {
    host.sessionStorage.setItem(TOKEN_KEY, token);
    const hash = rest === '' ? '' : `#${rest}`;
    host.history.replaceState(null, '', `${host.location.pathname}${host.location.search}${hash}`);
    return token;
  }
  return host.sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps a token typed into the form. */
export function saveToken(host: Pick<TokenHost, 'sessionStorage'>, token: string): void {
  host.sessionStorage.setItem(TOKEN_KEY, token);
}

/** Forgets the kept token (after the API refused it). */
export function forgetToken(host: Pick<TokenHost, 'sessionStorage'>): void {
  host.sessionStorage.removeItem(TOKEN_KEY);
}
