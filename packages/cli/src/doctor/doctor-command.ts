import { relative, resolve } from 'node:path';
import { colourFor } from '../ansi.js';
import { type CommandIO, integerOption, parseCommand, UsageError } from '../cli/args.js';
import { systemFromArgs } from '../cli/system-arg.js';
import { atLeast, type Severity } from './finding.js';
import { formatDoctorReport } from './format-report.js';
import { liveBaseUrl, liveToken } from './live-spans.js';
import { runDoctor } from './run-doctor.js';
import { readTraces } from './trace-file.js';

/**
 * `flotilla doctor`: prints the findings; 1 when one is at or above `--fail-on` (default error).
 * Spans come from `--traces FILE` or from a running system's control API (`--live URL`).
 */
export async function doctorCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'doctor',
    args,
    {
      file: { type: 'string', short: 'f' },
      traces: { type: 'string', short: 't' },
      live: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      'fail-on': { type: 'string' },
      chatty: { type: 'string' },
      'max-retry-factor': { type: 'string' },
    },
    1,
  );
  const failOn = (values['fail-on'] ?? 'error') as Severity;
  if (failOn !== 'error' && failOn !== 'warn')
    throw new UsageError(`--fail-on must be warn or error, got "${values['fail-on']}"`, 'doctor');
  const chatty = integerOption('doctor', 'chatty', values.chatty, 5, 1);
  const retryThreshold = integerOption('doctor', 'max-retry-factor', values['max-retry-factor'], 10, 1);
  if (values.live !== undefined && values.traces !== undefined)
    throw new UsageError('give --traces FILE or --live URL, not both', 'doctor');
  if (values.token !== undefined && values.live === undefined)
    throw new UsageError('--token is the admin token for --live URL; give --live too', 'doctor');
  const live = values.live === undefined ? undefined : liveBaseUrl(values.live);
  const system = await systemFromArgs('doctor', positionals[0], values.file, io);
  const tracesFile = values.traces === undefined ? undefined : resolve(io.cwd, values.traces);
  const report = await runDoctor(system, {
    chatty,
    retryThreshold,
    ...(tracesFile === undefined ? {} : { traces: { file: values.traces!, spans: readTraces(tracesFile) } }),
    ...(live === undefined
      ? {}
      : { live: { url: live, token: liveToken(system, live, values.token, io.env) } }),
  });
  io.stdout.write(
    values.json === true
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${formatDoctorReport(
          {
            ...report,
            file: report.file === undefined ? undefined : relative(io.cwd, report.file) || report.file,
          },
          colourFor(io.stdout, io.env),
        )}\n`,
  );
  return report.findings.some((f) => atLeast(f.severity, failOn)) ? 1 : 0;
}
