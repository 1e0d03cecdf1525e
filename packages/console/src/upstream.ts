import { Agent, request } from 'undici';

/** An answer of a service that was not a 2xx, or a transport failure, with a short message. */
export class UpstreamReadError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or 0 for a transport failure or timeout. */
    readonly status: number,
    /** The error code of the service's error body, when it sent one. */
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'UpstreamReadError';
  }
}

/** Options of one {@link Upstreams.json} call. */
export interface JsonCallOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Whole-call deadline in milliseconds. @default 2000 */
  readonly timeoutMs?: number;
}

/** JSON calls to the system's instances over one keep-alive agent, with short deadlines. */
export class Upstreams {
  private readonly agent = new Agent({ connections: 4, keepAliveTimeout: 10_000, connectTimeout: 1000 });

  /** Calls `url` and parses its JSON answer; rejects with {@link UpstreamReadError}. */
  async json<T>(url: string, options: JsonCallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 2000;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        method: options.method ?? 'GET',
        headers: {
          accept: 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const reason =
        (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new UpstreamReadError(reason, 0, undefined);
    }
    const text = await res.body.text().catch(() => '');
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return body as T;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new UpstreamReadError(
      typeof error?.message === 'string' ? error.message : `answered ${res.statusCode}`,
      res.statusCode,
      typeof error?.code === 'string' ? error.code : undefined,
    );
  }

  /** Closes the connections. */
  close(): Promise<void> {
    return this.agent.close();
  }
}
