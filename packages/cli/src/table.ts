// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\u001b\[[0-9;]*m/g;

/** The width of `text` on a terminal, ignoring colour codes. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/**
 * Renders rows as a plain-text table with a header, columns padded to their widest cell (colour
 * codes do not count) and two spaces between columns.
 *
 * @example
 * renderTable(['SERVICE', 'URL'], [['order', 'http://127.0.0.1:7202']]);
 * // 'SERVICE  URL\norder    http://127.0.0.1:7202'
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) =>
    Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[c] ?? ''))),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell + ' '.repeat(widths[c]! - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `1h02m`, `3m05s`, `42s`, or `-` for no duration. */
export function formatUptime(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
