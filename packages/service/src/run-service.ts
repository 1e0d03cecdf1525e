import { fstatSync } from 'node:fs';
import { ConfigError } from './config.js';
import type { RunningService, Service, StartOptions } from './define-service.js';
import { dropLogOutput } from './logger.js';
import { ServiceStartError } from './server.js';

/** The variable a supervisor sets when it holds the child's stdin open as a lifeline: `stdin`. */
export const LIFELINE_ENV = 'FLOTILLA_LIFELINE';

/**
 * Calls `stop` once when the process that started this one is gone, where that process said it
 * would tell: with `FLOTILLA_LIFELINE=stdin` (as `flotilla up` sets it) the parent holds this
 * process's stdin open and never writes to it, so its end means the parent exited, even by
 * SIGKILL, which leaves it no chance to stop its children. The parent read this process's
 * output too, so log lines are dropped from then on ({@link dropLogOutput}). Without the
 * variable, or with stdin not a pipe (a terminal, a file, `/dev/null`), nothing is watched. The
 * watch never keeps the process alive by itself.
 *
 * @example
 * onLifelineCut(() => void gateway.close().then(() => process.exit(0)));
 */
export function onLifelineCut(stop: () => void, env: NodeJS.ProcessEnv = process.env): void {
  if (env[LIFELINE_ENV] !== 'stdin') return;
  // The lifeline is this process's own: processes it starts do not inherit the promise.
  if (env === process.env) delete process.env[LIFELINE_ENV];
  if (!stdinIsPipe()) return;
  const stdin = process.stdin;
  let cut = false;
  const onEnd = (): void => {
    if (cut) return;
    cut = true;
    // The supervisor also read this process's output: a line written there now would fail.
    dropLogOutput();
    stop();
  };
  stdin.on('end', onEnd);
  stdin.on('close', onEnd);
  // A read error on the pipe means the same: nobody holds its other end any more.
  stdin.on('error', onEnd);
  stdin.resume();
  (stdin as { unref?: () => void }).unref?.();
}

function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/**
 * Runs a service as the main program of a process: starts it, and on SIGTERM or SIGINT shuts it
 * down gracefully and exits 0 after a clean drain (1 otherwise; a second signal exits at once).
 * Under a supervisor that holds a lifeline ({@link onLifelineCut}), the supervisor's end shuts it
 * down the same way. A service that cannot start prints why — the bad variable, the failed
 * setup — and exits 1.
 *
 * @example
 * // services/payment/main.ts
 * await runService(paymentService);
 */
export async function runService<Deps>(
  service: Service<Deps>,
  options?: StartOptions,
): Promise<RunningService<Deps>> {
  let running: RunningService<Deps>;
  try {
    running = await service.start(options);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ServiceStartError) {
      process.stderr.write(`${err.message}\n`);
      if (
        err instanceof ServiceStartError &&
        err.cause instanceof Error &&
        !(err.cause instanceof ConfigError)
      )
        process.stderr.write(`${err.cause.stack ?? err.cause.message}\n`);
    } else {
      process.stderr.write(
        `${service.name} failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals | 'supervisor gone'): void => {
    if (stopping) {
      if (signal === 'supervisor gone') return;
      running.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    running.log.info({ signal }, 'shutting down');
    running.close().then(
      ({ clean }) => process.exit(clean ? 0 : 1),
      (err: unknown) => {
        running.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  onLifelineCut(() => stop('supervisor gone'));
  return running;
}
