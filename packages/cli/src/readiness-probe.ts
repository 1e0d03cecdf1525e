import { Agent, request } from 'undici';

/** The answer of one readiness probe. */
export interface ProbeResult {
  /** True when `/health/ready` answered 200. */
  readonly ready: boolean;
  /** A short description for messages: `503 not_ready (failing: database)`, `not listening`. */
  readonly detail: string;
}

/** Probes instances' `/health/ready` over one connection pool. */
export interface ReadinessProbe {
  /** Asks `${url}/health/ready`, giving up after the probe's timeout. */
  check(url: string): Promise<ProbeResult>;
  /** Closes the connection pool. */
  close(): Promise<void>;
}

/**
 * A readiness prober. Its connections are short-lived: the processes behind them are killed and
 * restarted, and a pooled socket to a dead process would turn the next probe into a false failure.
 */
export function readinessProbe(options: { timeoutMs?: number } = {}): ReadinessProbe {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const dispatcher = new Agent({ keepAliveTimeout: 1_000, connections: 2, connectTimeout: timeoutMs });
  return {
    async check(url) {
      try {
        const res = await request(`${url}/health/ready`, {
          dispatcher,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.body.text();
        if (res.statusCode === 200) return { ready: true, detail: '200 ready' };
        return { ready: false, detail: `${res.statusCode} ${describeReport(text)}` };
      } catch (err) {
        return { ready: false, detail: describeFailure(err) };
      }
    },
    close: () => dispatcher.close(),
  };
}

/** `not_ready (failing: db: timed out)` from a readiness report body. */
function describeReport(body: string): string {
  try {
    const report = JSON.parse(body) as {
      status?: string;
      checks?: Record<string, { status?: string; error?: string }>;
    };
    const failing = Object.entries(report.checks ?? {})
      .filter(([, c]) => c.status === 'fail')
      .map(([name, c]) => (c.error === undefined ? name : `${name}: ${c.error}`));
    return `${report.status ?? 'unknown'}${failing.length === 0 ? '' : ` (failing: ${failing.join('; ')})`}`;
  } catch {
    return body.slice(0, 120);
  }
}

function describeFailure(err: unknown): string {
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED') return 'not listening (connection refused)';
  // An instance on another host (a cut network namespace) does not even answer the connection.
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'no answer (connecting timed out)';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `unreachable (${code})`;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || (err as Error).name === 'TimeoutError')
    return 'no answer (timed out)';
  return err instanceof Error ? err.message : String(err);
}
