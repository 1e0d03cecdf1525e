// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, so the
// console reads `/console/api/stream` as a byte stream and parses the events itself.

/** One dispatched event: its type (`message` when unnamed), data lines joined by `\n`, and id. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

/**
 * An incremental parser of the `text/event-stream` format (WHATWG HTML, "Server-sent events"):
 * feed it decoded text in any chunking, get back the events each chunk completed. Lines end with
 * CRLF, LF or CR; `:` lines are comments; a blank line dispatches the event being built (none
 * when it has no data line).
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | null = null;
  private hasData = false;
  private skipLf = false;
  /** The server's `retry:` reconnection time, in ms, when it sent one. */
  retryMs: number | null = null;

  /** Parses `chunk` and returns the events it completed. */
  push(chunk: string): SseEvent[] {
    // A CR that ended the previous chunk was a line end; an LF right after it belongs to it.
    const text = this.skipLf && chunk.startsWith('\n') ? chunk.slice(1) : chunk;
    if (chunk !== '') this.skipLf = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (c === 13) {
        if (i === this.buffer.length - 1) this.skipLf = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Ends the stream: an event without its closing blank line is dropped, as the format says. */
  end(): void {
    this.buffer = '';
    this.skipLf = false;
    this.reset();
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.hasData)
        out.push({
          event: this.event === '' ? 'message' : this.event,
          data: this.data.join('\n'),
          id: this.id,
        });
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
  }

  private reset(): void {
    this.event = '';
    this.data = [];
    this.hasData = false;
  }
}

/**
 * The wait before reconnection attempt `attempt` (0 = the first after a drop), in ms: doubles
 * from `baseMs` up to `maxMs`, with up to 25 % taken off at random (`random` in [0, 1)) so many
 * consoles do not reconnect in step.
 */
export function backoffDelay(attempt: number, random: number, baseMs = 500, maxMs = 10_000): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(full * (1 - 0.25 * random));
}

/** The state of the stream as the header shows it. */
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/** Options of {@link openStream}. */
export interface StreamOptions {
  /** The stream's URL. */
  readonly url: string;
  /** Request headers (the bearer token). */
  readonly headers: () => Record<string, string>;
  /** Every event received. */
  readonly onEvent: (event: SseEvent) => void;
  /** State changes. */
  readonly onState: (state: StreamState, detail?: string) => void;
  /** Reconnect when nothing (not even a comment) arrived for this long, ms. @default 15000 */
  readonly idleMs?: number;
  /** The fetch to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Timers. @default globalThis.setTimeout / clearTimeout */
  readonly timers?: {
    set(fn: () => void, ms: number): unknown;
    clear(handle: unknown): void;
  };
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** An open stream; `close()` stops it for good. */
export interface StreamHandle {
  close(): void;
}

/**
 * Reads an SSE stream with fetch() and keeps it open: on a drop, an error status or silence it
 * reconnects after {@link backoffDelay}; a 401 stops it with state `unauthorized`.
 */
export function openStream(options: StreamOptions): StreamHandle {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timers = options.timers ?? {
    set: (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms),
    clear: (handle: unknown): void => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
  };
  const random = options.random ?? Math.random;
  const idleMs = options.idleMs ?? 15_000;
  let closed = false;
  let attempt = 0;
  let controller: AbortController | null = null;
  let retryTimer: unknown = null;
  let idleTimer: unknown = null;

  const armIdle = (): void => {
    if (idleTimer !== null) timers.clear(idleTimer);
    idleTimer = timers.set(() => controller?.abort(new Error('no data')), idleMs);
  };

  const scheduleRetry = (detail: string, serverRetryMs: number | null): void => {
    if (closed) return;
    options.onState('reconnecting', detail);
    const delay = Math.max(serverRetryMs ?? 0, backoffDelay(attempt, random()));
    attempt++;
    retryTimer = timers.set(() => {
      retryTimer = null;
      void connect();
    }, delay);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const parser = new SseParser();
    controller = new AbortController();
    armIdle();
    try {
      const response = await doFetch(options.url, {
        headers: { accept: 'text/event-stream', ...options.headers() },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.status === 401) {
        options.onState('unauthorized', 'the console refused the token');
        closed = true;
        return;
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        scheduleRetry(`the stream answered HTTP ${response.status}`, null);
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      options.onState('live');
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armIdle();
        for (const event of parser.push(value)) {
          attempt = 0;
          try {
            options.onEvent(event);
          } catch (error) {
            console.error('console stream: an event handler failed', error);
          }
        }
      }
      scheduleRetry('the stream ended', parser.retryMs);
    } catch (error) {
      if (closed) return;
      scheduleRetry(`the stream dropped: ${(error as Error).message}`, parser.retryMs);
    } finally {
      if (idleTimer !== null) timers.clear(idleTimer);
      idleTimer = null;
    }
  };

  options.onState('connecting');
  void connect();
  return {
    close(): void {
      closed = true;
      if (retryTimer !== null) timers.clear(retryTimer);
      if (idleTimer !== null) timers.clear(idleTimer);
      controller?.abort(new Error('closed'));
    },
  };
}
