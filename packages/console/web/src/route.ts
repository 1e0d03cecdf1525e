// Hash routing: `#/<page>/<param>/...`, e.g. `#/traces/4bf92f35...` or `#/sagas/order/ab12`.

/** The console's pages, in nav-bar order. */
export const PAGES = [
  { id: 'topology', title: 'Topology' },
  { id: 'resilience', title: 'Resilience' },
  { id: 'sagas', title: 'Sagas' },
  { id: 'traces', title: 'Traces' },
  { id: 'events', title: 'Events' },
  { id: 'migration', title: 'Migration' },
  { id: 'chaos', title: 'Chaos' },
] as const;

/** One of {@link PAGES}' ids. */
export type PageId = (typeof PAGES)[number]['id'];

/** A parsed location: the page and the path segments after it (decoded). */
export interface Route {
  readonly page: PageId;
  readonly params: readonly string[];
}

const PAGE_IDS: ReadonlySet<string> = new Set(PAGES.map((p) => p.id));

/** Parses `location.hash`; anything unknown (or empty) is the topology page. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const parts = path.split('/').filter((p) => p !== '');
  const page = parts[0];
  if (page === undefined || !PAGE_IDS.has(page)) return { page: 'topology', params: [] };
  const params = parts.slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { page: page as PageId, params };
}

/** The hash of a page with parameters, each encoded. */
export function href(page: PageId, ...params: readonly (string | number)[]): string {
  return `#/${[page, ...params.map((p) => encodeURIComponent(String(p)))].join('/')}`;
}
