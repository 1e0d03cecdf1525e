import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { BodyTimeoutError, BodyTooLargeError } from './error-reply.js';

/**
 * Request bodies (internal). A body streams upstream as it arrives; it is read whole only when
 * it may have to be sent twice — a retryable request, or one mirrored to a shadow candidate —
 * and then never beyond `limits.bodyBytes` (Envoy buffers for retries the same way).
 */

const EMPTY = Buffer.alloc(0);

/**
 * Reads a whole body, rejecting with {@link BodyTooLargeError} past `limitBytes` and with
 * {@link BodyTimeoutError} when it has not all arrived after `timeoutMs`.
 */
export function readBody(req: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      req.pause();
      reject(new BodyTimeoutError(timeoutMs));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        // Stop reading: the client gets its 413 and the connection closes after it.
        req.pause();
        reject(new BodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(
        chunks.length === 0
          ? EMPTY
          : chunks.length === 1
            ? (chunks[0] as Buffer)
            : Buffer.concat(chunks, size),
      );
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (!req.complete) onError(new Error('the client closed the connection while sending the body'));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Passes a chunked body through, failing with {@link BodyTooLargeError} once it grows past `limitBytes`. */
class LimitedBody extends Transform {
  private size = 0;

  constructor(private readonly limitBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limitBytes) callback(new BodyTooLargeError(this.limitBytes));
    else callback(null, chunk);
  }
}

/** The body to stream upstream: the request itself when its length is declared (node enforces it), else a limited copy. */
export function streamBody(
  req: IncomingMessage,
  declaredLength: boolean,
  limitBytes: number,
): IncomingMessage | Transform {
  if (declaredLength) return req;
  const limited = new LimitedBody(limitBytes);
  req.on('error', (err) => limited.destroy(err));
  return req.pipe(limited);
}
