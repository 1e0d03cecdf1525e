// Number and time formatting shared by the pages.

/** A count with thousands separators, `–` for null. */
export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : Math.round(value).toLocaleString('en-US');
}

/** A rate per second: one decimal below 10, none above. */
export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

/** A fraction (0..1) as a percentage. */
export function percent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A duration in ms, as ms below a second and seconds (or minutes, hours) above. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value === 0) return '0 ms';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  if (value < 3_600_000) return `${Math.floor(value / 60_000)} min ${Math.round((value % 60_000) / 1000)} s`;
  return `${Math.floor(value / 3_600_000)} h ${Math.round((value % 3_600_000) / 60_000)} min`;
}

/** An epoch-ms time of day, `HH:MM:SS.mmm` in local time. */
export function clock(epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '–';
  const d = new Date(epochMs);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** An epoch-ms date and time, local. */
export function dateTime(epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '–';
  const d = new Date(epochMs);
  return `${d.toLocaleDateString('en-CA')} ${clock(epochMs)}`;
}

/** How long ago `epochMs` was, from `now`. */
export function ago(epochMs: number, now: number): string {
  return `${ms(Math.max(0, now - epochMs))} ago`;
}

/** Any JSON-able value, pretty-printed; strings as they are. */
export function json(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A short inline rendering of a value (for difference lists). */
export function inline(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** Colours of the reference shop's services; none is red, which marks errors. */
const SERVICE_COLOURS: Readonly<Record<string, string>> = {
  gateway: '#4e79a7',
  legacy: '#9c755f',
  catalog: '#b07aa1',
  order: '#f28e2b',
  inventory: '#e0b400',
  payment: '#59a14f',
  shipping: '#17becf',
  notification: '#8c8c8c',
};

/** Colours for other services, chosen by a hash of the name. */
const PALETTE = ['#1f77b4', '#bcbd22', '#9467bd', '#8cd17d', '#a0cbe8', '#ffbe7d', '#86bcb6', '#d4a6c8'];

/** A stable colour for a service name (for trace bars and legends). */
export function serviceColour(service: string): string {
  const known = SERVICE_COLOURS[service];
  if (known !== undefined) return known;
  let h = 0;
  for (let i = 0; i < service.length; i++) h = (h * 31 + service.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}
