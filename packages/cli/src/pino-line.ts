import { type Colour, paint } from './ansi.js';

const LEVELS: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const LEVEL_COLOURS: Readonly<Record<string, Colour>> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: 'red',
};
/** Fields every line carries, or that the prefix already shows. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'v', 'traceId', 'spanId']);
const MAX_FIELDS = 4;
const MAX_VALUE = 80;

/**
 * Renders a pino JSON line as a short readable one — level, message, up to four other fields —
 * or returns undefined when `line` is not a pino line (it is then shown as it is). An error's
 * stack follows on its own lines for levels `error` and `fatal`.
 *
 * @example
 * renderPinoLine('{"level":"info","time":"…","service":"order","msg":"order ready","url":"http://127.0.0.1:7202"}', false);
 * // 'INFO  order ready url=http://127.0.0.1:7202'
 */
export function renderPinoLine(line: string, colour: boolean): string | undefined {
  if (!line.startsWith('{')) return undefined;
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    record = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = typeof record.level === 'number' ? LEVELS[record.level] : record.level;
  if (typeof level !== 'string' || !('msg' in record || 'err' in record)) return undefined;

  const parts = [paint(LEVEL_COLOURS[level] ?? 'bold', level.toUpperCase().padEnd(5), colour)];
  const err = record.err as { message?: unknown; stack?: unknown } | undefined;
  const message = typeof record.msg === 'string' ? record.msg : '';
  if (message !== '') parts.push(message);
  const fields: string[] = [];
  if (typeof err === 'object' && err !== null && typeof err.message === 'string' && err.message !== message)
    fields.push(`err=${formatValue(err.message)}`);
  for (const [key, value] of Object.entries(record)) {
    if (fields.length >= MAX_FIELDS) break;
    if (HIDDEN.has(key) || key === 'err' || value === undefined) continue;
    fields.push(`${key}=${formatValue(value)}`);
  }
  if (fields.length > 0) parts.push(paint('gray', fields.join(' '), colour));
  let out = parts.join(' ');
  if ((level === 'error' || level === 'fatal') && typeof err === 'object' && err !== null) {
    if (typeof err.stack === 'string') {
      const frames = err.stack.split('\n').filter((l) => l.trimStart().startsWith('at '));
      if (frames.length > 0)
        out += `\n${paint('gray', frames.map((f) => `    ${f.trim()}`).join('\n'), colour)}`;
    }
  }
  return out;
}

function formatValue(value: unknown): string {
  const text =
    typeof value === 'string'
      ? /^[^\s"=]+$/.test(value)
        ? value
        : JSON.stringify(value)
      : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}
