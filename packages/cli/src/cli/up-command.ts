import { colourFor, paint } from '../ansi.js';
import { type RunningSystem, startSystem } from '../start-system.js';
import { formatUptime, renderTable } from '../table.js';
import { type CommandIO, parseCommand } from './args.js';
import { systemFromArgs } from './system-arg.js';

/**
 * `flotilla up`: runs the system until SIGINT, SIGTERM or SIGHUP, then stops it gracefully and returns 0.
 * A second signal exits at once (the supervisor's exit handler kills the children).
 */
export async function upCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'up',
    args,
    {
      file: { type: 'string', short: 'f' },
      profile: { type: 'string', short: 'p' },
      'raw-logs': { type: 'boolean' },
      'fault-proxies': { type: 'boolean' },
      'no-console': { type: 'boolean' },
    },
    1,
  );
  const system = await systemFromArgs('up', positionals[0], values.file, io);
  const colour = colourFor(io.stdout, io.env);
  const abort = new AbortController();
  let running: RunningSystem | undefined;
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      io.stderr.write(`\n${signal} again: exiting without waiting for services to stop\n`);
      process.exit(1);
    }
    io.stderr.write(`\n${signal}: stopping ${system.name}\n`);
    if (running === undefined) abort.abort();
    else void running.stop();
  };
  // SIGHUP too: a closed terminal should stop the services, not orphan them.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const name of signals) process.on(name, onSignal);
  try {
    try {
      running = await startSystem(system, {
        ...(values.profile === undefined ? {} : { profile: values.profile }),
        signal: abort.signal,
        faultProxies: values['fault-proxies'] === true,
        console: values['no-console'] !== true,
        write: (chunk) => io.stdout.write(chunk),
        colour,
        pretty: io.stdout.isTTY === true && values['raw-logs'] !== true,
        env: io.env,
      });
    } catch (err) {
      // Interrupted while starting: what was started has been stopped, as the operator asked.
      if (abort.signal.aborted) return 0;
      throw err;
    }
    if (abort.signal.aborted) {
      await running.stop();
      return 0;
    }
    io.stdout.write(`\n${summary(running, colour)}\n\n`);
    await running.stopped;
    return 0;
  } finally {
    for (const name of signals) process.off(name, onSignal);
  }
}

/** The table of services and the banner `up` prints once everything is ready. */
function summary(running: RunningSystem, colour: boolean): string {
  const rows = running.services.map((s) => {
    const multi = running.plan.services.find((p) => p.name === s.service)!.instances.length > 1;
    return [
      multi ? `${s.service}[${s.instance}]` : s.service,
      s.url,
      s.pid === null ? '-' : String(s.pid),
      paint(s.state === 'ready' ? 'green' : 'yellow', s.state, colour),
      formatUptime(s.uptimeMs),
    ];
  });
  const lines = [
    paint(
      'bold',
      `${running.system.name} is up${running.plan.profile === undefined ? '' : ` (profile ${running.plan.profile})`}`,
      colour,
    ),
    '',
    renderTable(['SERVICE', 'URL', 'PID', 'STATE', 'UPTIME'], rows),
  ];
  if (running.banner.length > 0) lines.push('', ...running.banner);
  lines.push(
    '',
    paint(
      'gray',
      `control API ${running.control.url} · data ${running.dataDir} · Ctrl-C stops everything · flotilla status|stop|start|restart in another terminal`,
      colour,
    ),
  );
  return lines.join('\n');
}
