import { relative, resolve } from 'node:path';
import { colourFor } from '../ansi.js';
import { type CommandIO, integerOption, parseCommand, UsageError } from '../cli/args.js';
import { systemFromArgs } from '../cli/system-arg.js';
import { atLeast, type Severity } from './finding.js';
import { formatDoctorReport } from './format-report.js';
import { runDoctor } from './run-doctor.js';
import { readTraces } from './trace-file.js';

/** `flotilla doctor`: prints the findings; 1 when one is at or above `--fail-on` (default error). */
export async function doctorCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'doctor',
    args,
    {
      file: { type: 'string', short: 'f' },
      traces: { type: 'string', short: 't' },
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
  const system = await systemFromArgs('doctor', positionals[0], values.file, io);
  const tracesFile = values.traces === undefined ? undefined : resolve(io.cwd, values.traces);
  const report = await runDoctor(system, {
    chatty,
    retryThreshold,
    ...(tracesFile === undefined ? {} : { traces: { file: values.traces!, spans: readTraces(tracesFile) } }),
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
