import { colourFor, paint } from '../ansi.js';
import { type InstanceHealth, systemStatus } from '../system-status.js';
import { formatUptime, renderTable } from '../table.js';
import { type CommandIO, parseCommand } from './args.js';
import { systemFromArgs } from './system-arg.js';

/** `flotilla status`: a table (or JSON) of every instance's health; 1 when one is not ready. */
export async function statusCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand(
    'status',
    args,
    {
      file: { type: 'string', short: 'f' },
      profile: { type: 'string', short: 'p' },
      json: { type: 'boolean' },
      token: { type: 'string' },
    },
    1,
  );
  const system = await systemFromArgs('status', positionals[0], values.file, io);
  const status = await systemStatus(system, {
    env: io.env,
    ...(values.profile === undefined ? {} : { profile: values.profile }),
    ...(values.token === undefined ? {} : { adminToken: values.token }),
  });
  const allReady = status.services.every((s) => s.health === 'ready');
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return allReady ? 0 : 1;
  }
  const colour = colourFor(io.stdout, io.env);
  const multi = new Set(status.services.filter((s) => s.instance > 0).map((s) => s.service));
  const label = (s: InstanceHealth): string =>
    multi.has(s.service) ? `${s.service}[${s.instance}]` : s.service;
  const rows = status.services.map((s) => [
    label(s),
    s.url,
    s.supervisor?.state ?? '-',
    paint(s.health === 'ready' ? 'green' : s.health === 'down' ? 'red' : 'yellow', s.health, colour),
    s.supervisor?.pid === null || s.supervisor === null ? '-' : String(s.supervisor.pid),
    s.supervisor === null ? '-' : String(s.supervisor.restarts),
    formatUptime(s.supervisor?.uptimeMs ?? null),
    Object.entries(s.breakers)
      .map(([upstream, state]) => paint(state === 'closed' ? 'gray' : 'red', `${upstream}=${state}`, colour))
      .join(' ') || '-',
    Object.entries(s.queues)
      .map(([queue, depth]) => `${queue}=${depth}`)
      .join(' ') || '-',
  ]);
  const head = `${status.system}${status.profile === null ? '' : ` (profile ${status.profile})`}: ${
    status.supervised
      ? 'supervised by flotilla up'
      : 'flotilla up is not running; probing the configured ports'
  }`;
  const notes = status.services.flatMap((s) =>
    s.failingChecks.map((c) => `  ${label(s)}: failing check ${c}`),
  );
  io.stdout.write(
    `${[
      head,
      '',
      renderTable(
        ['SERVICE', 'URL', 'STATE', 'HEALTH', 'PID', 'RESTARTS', 'UPTIME', 'BREAKERS', 'QUEUES'],
        rows,
      ),
      ...(notes.length === 0 ? [] : ['', ...notes]),
    ].join('\n')}\n`,
  );
  return allReady ? 0 : 1;
}
