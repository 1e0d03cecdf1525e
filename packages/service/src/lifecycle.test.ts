import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, testServiceKey } from './testing.js';

const fixture = fileURLToPath(new URL('./fixtures/lifecycle-service.ts', import.meta.url));

interface Child {
  readonly proc: ChildProcess;
  /** Resolves with the first JSON line satisfying `match`. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
}

function start(env: Record<string, string>, stdin: 'ignore' | 'pipe' = 'ignore'): Child {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fixture], {
    env: { ...process.env, FLOTILLA_LOG_LEVEL: 'silent', FLOTILLA_SERVICE_KEY: testServiceKey, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) if (w.match(line)) w.resolve(line);
  });
  return {
    proc,
    lines,
    stderr: () => err,
    waitFor(match) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        proc.once('exit', (code) =>
          reject(new Error(`child exited (${code}) before the expected line; stderr: ${err}`)),
        );
      });
    },
  };
}

describe('service lifecycle (real process)', () => {
  it('drains on SIGTERM: readiness turns 503 first, in-flight requests finish, resources close in reverse, exit 0', async (t) => {
    // Generous delays: on a loaded machine the signal may take a while to be handled.
    const child = start({ FLOTILLA_SHUTDOWN_DELAY_MS: '2000', SLOW_MS: '3000' });
    t.after(() => child.proc.kill('SIGKILL'));
    const { ready } = (await child.waitFor((l) => typeof l.ready === 'string')) as { ready: string };
    assert.equal((await fetch(`${ready}/health/ready`)).status, 200);

    const inFlight = fetch(`${ready}/slow`);
    await child.waitFor((l) => l.handling === 'slow'); // the request is in the handler
    child.proc.kill('SIGTERM');
    // Readiness turns 503 as soon as the signal is handled, while connections are still accepted.
    let readiness = await fetch(`${ready}/health/ready`);
    for (let i = 0; i < 100 && readiness.status === 200; i++) {
      await readiness.body?.cancel();
      await new Promise((r) => setTimeout(r, 10));
      readiness = await fetch(`${ready}/health/ready`);
    }
    assert.equal(readiness.status, 503);
    assert.equal(((await readiness.json()) as { status: string }).status, 'draining');

    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { finished: true });

    const [code] = (await once(child.proc, 'exit')) as [number | null];
    assert.equal(
      code,
      0,
      `exit code ${code}; stderr: ${child.stderr()}; lines: ${JSON.stringify(child.lines)}`,
    );
    const closed = child.lines.filter((l) => 'closed' in l).map((l) => l.closed);
    assert.deepEqual(closed, ['second-opened', 'first-opened']);
    await assert.rejects(fetch(`${ready}/health/live`), 'the server no longer accepts connections');
  });

  it('shuts down gracefully when the lifeline its supervisor holds (stdin) ends, and does not pass it on', async (t) => {
    const child = start({ FLOTILLA_LIFELINE: 'stdin', SLOW_MS: '1000' }, 'pipe');
    t.after(() => child.proc.kill('SIGKILL'));
    const ready = (await child.waitFor((l) => typeof l.ready === 'string')) as {
      ready: string;
      lifeline: unknown;
    };
    assert.equal(ready.lifeline, null, 'FLOTILLA_LIFELINE stays in the environment of processes it starts');
    const inFlight = fetch(`${ready.ready}/slow`);
    await child.waitFor((l) => l.handling === 'slow');
    child.proc.stdin?.end();
    const res = await inFlight;
    assert.equal(res.status, 200, 'the request in flight was not drained');
    const [code] = (await once(child.proc, 'exit')) as [number | null];
    assert.equal(code, 0, `exit code ${code}; stderr: ${child.stderr()}`);
    const closed = child.lines.filter((l) => 'closed' in l).map((l) => l.closed);
    assert.deepEqual(closed, ['second-opened', 'first-opened']);
  });

  it('ignores the end of stdin without FLOTILLA_LIFELINE', async (t) => {
    const child = start({}, 'pipe');
    t.after(() => child.proc.kill('SIGKILL'));
    const { ready } = (await child.waitFor((l) => typeof l.ready === 'string')) as { ready: string };
    child.proc.stdin?.end();
    // A request that runs its whole handler after stdin ended: the service did not start draining.
    const res = await fetch(`${ready}/slow`);
    assert.equal(res.status, 200);
    assert.equal((await fetch(`${ready}/health/ready`)).status, 200);
    assert.equal(child.proc.exitCode, null);
  });

  it('answers /health/startup 503 while setup runs, then 200', async (t) => {
    const port = await freePort();
    const child = start({ SETUP_DELAY_MS: '1500', FLOTILLA_PORT: String(port) });
    t.after(() => child.proc.kill('SIGKILL'));
    // The server listens before setup finishes: poll the startup probe until it answers.
    let first: Response | undefined;
    for (let i = 0; i < 200 && first === undefined; i++) {
      first = await fetch(`http://127.0.0.1:${port}/health/startup`).catch(() => undefined);
      if (first === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(first?.status, 503);
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/health/startup`)).status, 503);
    assert.equal((await fetch(`${base}/health/live`)).status, 200);
    const ready = await fetch(`${base}/health/ready`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { status: string }).status, 'starting');
    const early = await fetch(`${base}/slow`);
    assert.equal(early.status, 503);
    assert.equal(((await early.json()) as { error: { code: string } }).error.code, 'STARTING');
    await child.waitFor((l) => typeof l.ready === 'string');
    assert.equal((await fetch(`${base}/health/startup`)).status, 200);
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);
    child.proc.kill('SIGTERM');
    const [code] = (await once(child.proc, 'exit')) as [number | null];
    assert.equal(code, 0);
  });

  it('refuses to start with bad configuration, printing the variable, and exits 1', async () => {
    const child = start({ SLOW_MS: 'soon' });
    const [code] = (await once(child.proc, 'exit')) as [number | null];
    assert.equal(code, 1);
    assert.match(child.stderr(), /SLOW_MS: .*got "soon"/);
  });
});
