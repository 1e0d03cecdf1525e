import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  fixtureEntry,
  fixturesDir,
  freePorts,
  processExists,
  temporaryDirectory,
} from './fixtures/harness.js';
import type { SystemStatus } from './system-status.js';

const bin = fileURLToPath(new URL('./bin.ts', import.meta.url));
// Resolved here: node resolves --import from the working directory, which some tests change.
const tsx = import.meta.resolve('tsx');
// FORCE_COLOR is removed, not emptied: Node 24 warns when it is set (even empty) beside NO_COLOR.
const { FORCE_COLOR: _forceColor, ...inherited } = process.env;
const childEnv = { ...inherited, NO_COLOR: '1' };

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnCli(args: readonly string[], env: Record<string, string | undefined> = {}): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', '--import', tsx, bin, ...args], {
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function cli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Writes a JSON system file of the fixture services, on fresh ports, into `dir`. */
async function writeSystemFile(
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<{ file: string; ports: number[] }> {
  const ports = await freePorts(5);
  const file = join(dir, 'flotilla.system.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'cli-fixture',
      dataDir: 'data',
      controlPort: 0,
      gateway: 'storefront',
      restart: { initialDelayMs: 20 },
      services: [
        { name: 'catalog', entry: fixtureEntry('catalog.ts'), port: ports[0] },
        { name: 'pricing', entry: fixtureEntry('pricing.ts'), port: ports[1], dependsOn: ['catalog'] },
        {
          name: 'storefront',
          entry: fixtureEntry('storefront.ts'),
          instances: [{ port: ports[2] }, { port: ports[3] }],
          dependsOn: ['pricing'],
        },
      ],
      ...extra,
    }),
  );
  return { file, ports };
}

describe('flotilla (command line)', () => {
  it('prints help, and help for each command', async () => {
    const main = await cli(['--help']);
    assert.equal(main.code, 0);
    assert.match(main.stdout, /^Usage: flotilla <command> \[options\]/);
    for (const command of ['up', 'status', 'stop', 'start', 'restart', 'reset', 'load']) {
      const help = await cli(['help', command]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^Usage: flotilla ${command} `));
    }
    assert.match((await cli(['up', '--help'])).stdout, /^Usage: flotilla up \[system-file\]/);
  });

  it('exits 2 on usage errors, naming the problem', async () => {
    const none = await cli([]);
    assert.equal(none.code, 2);
    const unknown = await cli(['launch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /flotilla: unknown command "launch"\nRun flotilla --help for usage\./);
    const option = await cli(['status', '--bogus']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /flotilla status: Unknown option '--bogus'/);
    const orders = await cli(['load', join(fixturesDir, 'fixture.system.ts'), '--orders', 'many']);
    assert.equal(orders.code, 2);
    assert.match(orders.stderr, /--orders must be an integer >= 1, got "many"/);
  });

  it('exits 2 when there is no system file to use', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, bin, 'status'], {
      cwd: tmp.dir,
      env: { ...childEnv, FLOTILLA_SYSTEM: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = await once(child, 'close');
    assert.equal(code, 2);
    assert.match(stderr, /no system file: pass one/);
  });

  it('exits 1 on an invalid system file, naming the bad key', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const { file } = await writeSystemFile(tmp.dir, { restart: { initalDelayMs: 20 } });
    const result = await cli(['up', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`system file ${file} is invalid:`));
    assert.match(result.stderr, /restart\.initalDelayMs: unknown key \(did you mean "initialDelayMs"\?\)/);
  });

  it('fails up with a message naming the service that never became ready', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const [port] = await freePorts(1);
    const file = join(tmp.dir, 'stubborn.system.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'stubborn',
        dataDir: 'data',
        controlPort: 0,
        readyTimeoutMs: 8_000,
        services: [{ name: 'stubborn', entry: fixtureEntry('stubborn.ts'), port }],
      }),
    );
    const result = await cli(['up', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^flotilla up: service "stubborn" did not become ready within 8000 ms/);
  });
});

describe('flotilla up, with the other commands beside it', () => {
  const tmp = temporaryDirectory();
  let file: string;
  let ports: number[];
  let up: ChildProcess;
  let upOutput = '';
  let upExit: Promise<[number | null, string | null]>;

  before(async () => {
    ({ file, ports } = await writeSystemFile(tmp.dir));
    up = spawnCli(['up', file]);
    upExit = once(up, 'close') as Promise<[number | null, string | null]>;
    up.stdout?.on('data', (d: Buffer) => {
      upOutput += d.toString();
    });
    up.stderr?.on('data', (d: Buffer) => {
      upOutput += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (upOutput.includes('cli-fixture is up')) resolve();
      };
      up.stdout?.on('data', check);
      up.once('close', (code) => reject(new Error(`flotilla up exited (${code}):\n${upOutput}`)));
    });
  });
  after(async () => {
    if (up.exitCode === null && up.signalCode === null) {
      up.kill('SIGTERM');
      await upExit;
    }
    tmp.remove();
  });

  it('prints the table of services with their URLs and pids', () => {
    for (const [label, port] of [
      ['catalog', ports[0]],
      ['pricing', ports[1]],
      ['storefront[0]', ports[2]],
      ['storefront[1]', ports[3]],
    ] as const)
      assert.match(
        upOutput,
        new RegExp(`^${label.replace(/[[\]]/g, '\\$&')} +http://127\\.0\\.0\\.1:${port} +\\d+ +ready`, 'm'),
      );
  });

  it('passes JSON log lines through, prefixed, when its output is not a terminal', () => {
    assert.match(upOutput, /^catalog {7}\| \{"level":"info",.*"msg":"catalog ready"\}$/m);
  });

  it('shows health and breakers in status, with exit 0 when every instance is ready', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${ports[2]}/quote/1`)).status, 200);
    const table = await cli(['status', file]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /supervised by flotilla up/);
    assert.match(
      table.stdout,
      /^storefront\[0\] +http:\/\/127\.0\.0\.1:\d+ +ready +ready +\d+ +0 +\S+ +pricing=closed/m,
    );
    const json = await cli(['status', '--json', '-f', file]);
    const status = JSON.parse(json.stdout) as SystemStatus;
    assert.equal(status.supervised, true);
    assert.deepEqual(
      status.services.map((s) => `${s.service}[${s.instance}] ${s.health}`),
      ['catalog[0] ready', 'pricing[0] ready', 'storefront[0] ready', 'storefront[1] ready'],
    );
    assert.deepEqual(status.services[2]?.breakers, { pricing: 'closed' });
  });

  it('stops and starts a service through the control API', async () => {
    const stop = await cli(['stop', 'pricing', '-f', file]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, 'pricing: stopped\n');
    const status = await cli(['status', file]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^pricing +\S+ +stopped +down/m);
    const start = await cli(['start', 'pricing', '-f', file]);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^pricing: ready \(pid \d+\)\n$/);
    const restart = await cli(['restart', 'storefront', '--instance', '1', '-f', file]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /^storefront\[1\]: ready \(pid \d+\)\n$/);
  });

  it('rejects a control command for a service the system does not have', async () => {
    const result = await cli(['stop', 'payment', '-f', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown service "payment" \(services: catalog, pricing, storefront\)/);
  });

  it('runs a load scenario and prints a summary with its outcomes', async () => {
    const result = await cli(
      [
        'load',
        join(fixturesDir, 'fixture.system.ts'),
        '--orders',
        '20',
        '--concurrency',
        '4',
        '--seed',
        '7',
        '--gateway',
        `http://127.0.0.1:${ports[2]}`,
      ],
      { FIXTURE_DATA_DIR: join(tmp.dir, 'load-data') },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^load: 20 orders, concurrency 4, against http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(result.stdout, /^load: 20\/20 done, 0 failed$/m);
    assert.match(result.stdout, /^done: 20 of 20 in [\d.]+ s$/m);
    assert.match(result.stdout, /^ {2}throughput {2}[\d.]+\/s \(concurrency 4, seed 7\)$/m);
    assert.match(result.stdout, /^ {2}latency {5}p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$/m);
    // Every tenth asks for a missing item: a 502, or a 503 once the storefront's breaker opens.
    assert.match(result.stdout, /^ {2}outcomes {4}quoted 18, http_50[23] [12](, http_50[23] 1)?$/m);
  });

  it('refuses to reset while it runs', async () => {
    const result = await cli(['reset', file]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /refusing to reset: flotilla up is running for system "cli-fixture" \(pid \d+\)/,
    );
  });

  it('stops every service on SIGTERM and exits 0, leaving no process behind; then reset works', async () => {
    const status = JSON.parse((await cli(['status', '--json', file])).stdout) as SystemStatus;
    const pids = status.services.map((s) => s.supervisor!.pid!);
    assert.equal(pids.length, 4);
    up.kill('SIGTERM');
    const [code] = await upExit;
    assert.equal(code, 0, upOutput);
    assert.match(upOutput, /flotilla +\| all services stopped/);
    for (const pid of pids) assert.equal(processExists(pid), false, `pid ${pid} still runs`);
    const reset = await cli(['reset', file]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stdout, `removed ${join(tmp.dir, 'data')}\n`);
  });
});

describe('flotilla up, killed', () => {
  it('leaves no service behind when it is killed with SIGKILL: each stops when its lifeline ends', async (t) => {
    const tmp = temporaryDirectory();
    t.after(() => tmp.remove());
    const { file } = await writeSystemFile(tmp.dir);
    const up = spawnCli(['up', file]);
    let output = '';
    for (const stream of [up.stdout, up.stderr])
      stream?.on('data', (d: Buffer) => {
        output += d.toString();
      });
    const closed = once(up, 'close');
    await new Promise<void>((resolve, reject) => {
      up.stdout?.on('data', () => {
        if (output.includes('cli-fixture is up')) resolve();
      });
      up.once('close', (code) => reject(new Error(`flotilla up exited (${code}):\n${output}`)));
    });
    const status = JSON.parse((await cli(['status', '--json', file])).stdout) as SystemStatus;
    const pids = status.services.map((s) => s.supervisor!.pid!);
    assert.equal(pids.length, 4);
    t.after(() => {
      for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
    });

    up.kill('SIGKILL');
    await closed;
    // Nothing signals the services: they notice that their stdin ended. Waits until they are
    // gone (a bound far above the few hundred milliseconds a graceful stop takes here).
    for (let waited = 0; waited < 30_000 && pids.some(running); waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      pids.filter(running),
      [],
      `services still running 30 s after the supervisor was killed:\n${output}`,
    );
  });
});

/** The process exists and is not a zombie waiting for a parent that does not reap it. */
function running(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    // The state follows the command name in parentheses, which may itself contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
