import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { colourFor, paint } from '../ansi.js';
import { isChaosScheduleError, parseDuration, parseFaultSchedule } from '../chaos-schedule.js';
import { formatChaosSummary, formatFaultRecord } from '../chaos-summary.js';
import { loadChaos } from '../load-chaos.js';
import { infraFaultProblem, runChaos } from '../run-chaos.js';
import { type CommandIO, integerOption, parseCommand, UsageError } from './args.js';
import { systemFromArgs } from './system-arg.js';

/** The schedule without `--faults` when the system file gives none. */
export const DEFAULT_FAULTS = 'kill:random@every=10s,freeze:random@every=15s,for=3s';

/**
 * `flotilla chaos`: starts the system, runs its chaos workload while the nemesis injects the
 * `--faults`, heals everything, waits for quiescence, runs the checker, prints the summary and
 * writes the JSON report. Exits 1 on any violation (or when the run could not complete).
 */
export async function chaosCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'chaos',
    args,
    {
      file: { type: 'string', short: 'f' },
      profile: { type: 'string', short: 'p' },
      duration: { type: 'string', short: 'd' },
      seed: { type: 'string' },
      faults: { type: 'string' },
      concurrency: { type: 'string', short: 'c' },
      quiesce: { type: 'string' },
      report: { type: 'string' },
      'free-ports': { type: 'boolean' },
      'nats-server': { type: 'boolean' },
      'nats-server-bin': { type: 'string' },
      logs: { type: 'boolean' },
    },
    1,
  );
  const duration = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined || ms < 1)
      throw new UsageError(`--${name} must be a duration like 30s, 500ms or 2m, got "${value}"`, 'chaos');
    return ms;
  };
  const durationMs = duration('duration', values.duration, 60_000);
  const quiesceMs = duration('quiesce', values.quiesce, 90_000);
  const seed = integerOption('chaos', 'seed', values.seed, 1, 0);
  const concurrency = integerOption('chaos', 'concurrency', values.concurrency, 8, 1);
  const system = await systemFromArgs('chaos', positionals[0], values.file, io);
  if (values.profile !== undefined && !system.profiles.includes(values.profile))
    throw new UsageError(
      `unknown profile "${values.profile}" (profiles: ${system.profiles.join(', ') || 'none'})`,
      'chaos',
    );
  const chaos = system.file === undefined ? undefined : await loadChaos(system.file);
  if (chaos === undefined)
    throw new UsageError(
      `${system.file ?? system.name} has no chaos experiment; export one: export const chaos: ChaosDefinition = { workload, check }`,
      'chaos',
    );
  const schedule = values.faults ?? chaos.defaultFaults ?? DEFAULT_FAULTS;
  let faults: ReturnType<typeof parseFaultSchedule>;
  try {
    faults = parseFaultSchedule(
      schedule,
      system.definition.services.map((s) => s.name),
    );
  } catch (err) {
    if (isChaosScheduleError(err)) throw new UsageError(`--faults: ${err.message}`, 'chaos');
    throw err;
  }
  // --nats-server-bin alone asks for the server too.
  const natsServer =
    values['nats-server'] === true || values['nats-server-bin'] !== undefined
      ? values['nats-server-bin'] === undefined
        ? {}
        : {
            // A bare name is looked up on PATH; a path is the command line's, relative to its directory.
            binary: values['nats-server-bin'].includes('/')
              ? resolve(io.cwd, values['nats-server-bin'])
              : values['nats-server-bin'],
          }
      : undefined;
  const problem = infraFaultProblem(system, faults, {
    ...(values.profile === undefined ? {} : { profile: values.profile }),
    ...(natsServer === undefined ? {} : { natsServer }),
  });
  if (problem !== undefined)
    throw new UsageError(
      problem.fault === undefined ? `--nats-server: ${problem.message}` : `--faults: ${problem.message}`,
      'chaos',
    );
  const reportFile = resolve(io.cwd, values.report ?? 'chaos-report.json');

  const colour = colourFor(io.stdout, io.env);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('chaos run cancelled'));
  process.once('SIGINT', onSignal);
  io.stdout.write(
    `chaos: ${system.name}${values.profile === undefined ? '' : ` (profile ${values.profile})`} for ${durationMs / 1000} s, seed ${seed}, concurrency ${concurrency}${values['free-ports'] === true ? ', on free ports' : ''}${natsServer === undefined ? '' : ', on its own NATS server'}\n  faults: ${faults.map((f) => f.text).join('  ')}\n`,
  );
  try {
    const report = await runChaos(system, chaos, {
      durationMs,
      quiesceMs,
      seed,
      concurrency,
      faults,
      freePorts: values['free-ports'] === true,
      ...(natsServer === undefined ? {} : { natsServer }),
      env: io.env,
      signal: abort.signal,
      ...(values.profile === undefined ? {} : { profile: values.profile }),
      ...(values.logs === true ? { write: (chunk: string) => io.stderr.write(chunk) } : {}),
      onPhase: (phase) => {
        const text: Record<typeof phase, string> = {
          starting: 'starting the system',
          running: 'running the workload and the nemesis',
          healing: 'faults over: healing every instance, letting operations finish',
          checking: 'checking the invariants',
          stopping: 'stopping the system',
        };
        io.stdout.write(paint('gray', `-- ${text[phase]}\n`, colour));
      },
      onFault: (r) => io.stdout.write(`${formatFaultRecord(r, colour)}\n`),
    });
    writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
    io.stdout.write(`\n${formatChaosSummary(report, colour)}\nreport: ${reportFile}\n`);
    return report.passed ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
