import { colourFor, paint } from '../ansi.js';
import { type LoadProgress, type LoadSummary, runLoad } from '../run-load.js';
import { readSecrets } from '../secrets-file.js';
import { type CommandIO, integerOption, parseCommand, UsageError } from './args.js';
import { systemFromArgs } from './system-arg.js';

const BAR_WIDTH = 30;

/**
 * `flotilla load`: runs the system's load scenario and prints a summary. A progress bar on a
 * terminal, a line per tenth otherwise. Ctrl-C stops early and still prints the summary (exit 130).
 */
export async function loadCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'load',
    args,
    {
      file: { type: 'string', short: 'f' },
      orders: { type: 'string', short: 'n' },
      concurrency: { type: 'string', short: 'c' },
      gateway: { type: 'string', short: 'g' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const iterations = integerOption('load', 'orders', values.orders, 100, 1);
  const concurrency = integerOption('load', 'concurrency', values.concurrency, 10, 1);
  const seed = values.seed === undefined ? undefined : integerOption('load', 'seed', values.seed, 0, 0);
  if (values.gateway !== undefined && !/^https?:\/\/[^/\s]+/.test(values.gateway))
    throw new UsageError(`--gateway must be an http(s) URL, got "${values.gateway}"`, 'load');
  const system = await systemFromArgs('load', positionals[0], values.file, io);
  if (system.load === undefined)
    throw new UsageError(
      `${system.file ?? system.name} has no load scenario; export one: export const load: LoadScenario = async (ctx) => { … }`,
      'load',
    );
  const gatewayUrl =
    values.gateway ??
    (system.gateway === undefined
      ? undefined
      : system.plan().services.find((s) => s.name === system.gateway)?.instances[0]?.url);
  if (gatewayUrl === undefined)
    throw new UsageError('pass --gateway URL (the system file names no gateway service)', 'load');

  const colour = colourFor(io.stdout, io.env);
  const tty = io.stdout.isTTY === true;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('load run cancelled'));
  process.once('SIGINT', onSignal);
  let lastTenth = 0;
  let lastDrawMs = -Infinity;
  const progress = (p: LoadProgress): void => {
    if (values.json === true) return;
    if (tty) {
      if (p.done < p.total && p.elapsedMs - lastDrawMs < 100) return;
      lastDrawMs = p.elapsedMs;
      const filled = Math.round((p.done / p.total) * BAR_WIDTH);
      const rate = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
      io.stdout.write(
        `\r${paint('green', '#'.repeat(filled), colour)}${'.'.repeat(BAR_WIDTH - filled)} ${p.done}/${p.total} ${rate.toFixed(1)}/s${p.failed > 0 ? paint('red', ` ${p.failed} failed`, colour) : ''}`,
      );
      return;
    }
    const tenth = Math.floor((p.done * 10) / p.total);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      io.stdout.write(`load: ${p.done}/${p.total} done, ${p.failed} failed\n`);
    }
  };
  if (values.json !== true)
    io.stdout.write(`load: ${iterations} orders, concurrency ${concurrency}, against ${gatewayUrl}\n`);
  let summary: LoadSummary;
  try {
    summary = await runLoad(system.load, {
      iterations,
      concurrency,
      gatewayUrl,
      secrets: readSecrets(system.dataDir) ?? {},
      signal: abort.signal,
      onProgress: progress,
      ...(seed === undefined ? {} : { seed }),
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
  if (values.json === true) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else io.stdout.write(`${tty ? '\n' : ''}${formatSummary(summary, colour)}\n`);
  return summary.cancelled ? 130 : 0;
}

/** The summary as a few readable lines. */
export function formatSummary(s: LoadSummary, colour: boolean): string {
  const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  const lines = [
    paint(
      'bold',
      `${s.cancelled ? 'cancelled after' : 'done:'} ${s.succeeded + s.failed} of ${s.iterations} in ${(s.elapsedMs / 1000).toFixed(2)} s`,
      colour,
    ),
    `  throughput  ${s.throughputPerSecond.toFixed(1)}/s (concurrency ${s.concurrency}, seed ${s.seed})`,
    s.latency === null
      ? '  latency     -'
      : `  latency     p50 ${ms(s.latency.p50Ms)}, p99 ${ms(s.latency.p99Ms)}, max ${ms(s.latency.maxMs)}`,
    `  succeeded   ${s.succeeded}${s.failed > 0 ? paint('red', `, failed ${s.failed}`, colour) : ''}`,
  ];
  const outcomes = Object.entries(s.outcomes).sort((a, b) => b[1] - a[1]);
  if (outcomes.length > 0) lines.push(`  outcomes    ${outcomes.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const errors = Object.entries(s.errors)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  for (const [message, count] of errors) lines.push(paint('red', `  error ×${count}: ${message}`, colour));
  return lines.join('\n');
}
