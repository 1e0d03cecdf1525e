import { ConfigError } from './config.js';
import type { RunningService, Service, StartOptions } from './define-service.js';
import { ServiceStartError } from './server.js';

/**
 * Runs a service as the main program of a process: starts it, and on SIGTERM or SIGINT shuts it
 * down gracefully and exits 0 after a clean drain (1 otherwise; a second signal exits at once).
 * A service that cannot start prints why — the bad variable, the failed setup — and exits 1.
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
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
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
  return running;
}
