import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureTool } from './tools.js';

const run = promisify(execFile);

/** One load run of wrk. */
export interface WrkOptions {
  url: string;
  /** Open connections. @default 50 */
  connections?: number;
  /** wrk threads. @default 2 */
  threads?: number;
  /** Duration in seconds. @default 5 */
  durationS?: number;
  /** HTTP method. @default 'GET' */
  method?: string;
  /** Request body. */
  body?: string;
  /** Request headers. */
  headers?: Record<string, string>;
}

/** What a wrk run measured. */
export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors plus non-2xx/3xx responses. */
  readonly errors: number;
  readonly requests: number;
}

/** Runs Debian's wrk against `url` and parses requests/s, latency percentiles and errors. */
export async function wrk(options: WrkOptions): Promise<WrkResult> {
  const bin = ensureTool('wrk');
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-wrk-'));
  try {
    const script = join(dir, 'request.lua');
    const lines = [`wrk.method = ${JSON.stringify(options.method ?? 'GET')}`];
    if (options.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(options.body)}`);
    for (const [k, v] of Object.entries(options.headers ?? {}))
      lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
    writeFileSync(script, `${lines.join('\n')}\n`);
    const { stdout } = await run(
      bin,
      [
        `-t${options.threads ?? 2}`,
        `-c${options.connections ?? 50}`,
        `-d${options.durationS ?? 5}s`,
        '--latency',
        '-s',
        script,
        options.url,
      ],
      { maxBuffer: 1 << 20 },
    );
    return parseWrk(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === 'us') return n / 1000;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  return n;
}

/** Parses wrk's text output. */
export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(out);
    return m === null ? Number.NaN : toMs(m[1] as string, m[2] as string);
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0);
  return { rps, p50Ms: pct('50'), p99Ms: pct('99'), errors: socketErrors + non2xx, requests };
}
