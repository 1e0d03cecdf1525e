import type { CallOptions, ClientResponse, ServiceClient } from '@flotilla/service';
import type { TraceContext } from './trace.js';

/** What a step's action or compensation gets besides the context. */
export interface StepContext {
  readonly sagaId: string;
  /** The step's name. */
  readonly step: string;
  /** `{sagaId}:{step}` for the action, `{sagaId}:{step}:compensate` for the compensation. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt; counts on across restarts of the runner. */
  readonly attempt: number;
  /** Aborts when the step's timeout passes or the runner closes. */
  readonly signal: AbortSignal;
  /** The step's span (a child of the trace that started the saga). */
  readonly trace: TraceContext | undefined;
  /** The whole saga's deadline, epoch milliseconds. */
  readonly deadline: number | undefined;
  /**
   * `client` bound to this attempt: it sends the idempotency key as `Idempotency-Key`,
   * propagates the trace, and is cancelled with the step.
   */
  call(client: ServiceClient): ServiceClient;
}

/** A client that adds the step's idempotency key to every call (internal). */
export function keyedClient(client: ServiceClient, step: StepContext): ServiceClient {
  const bound = client.with({ trace: step.trace, signal: step.signal, deadline: step.deadline });
  const withKey = <T>(options: CallOptions<T> | undefined): CallOptions<T> => ({
    ...options,
    idempotencyKey: options?.idempotencyKey ?? step.idempotencyKey,
    signal: options?.signal ?? step.signal,
  });
  const keyed: ServiceClient = {
    service: bound.service,
    request: <T>(method: Parameters<ServiceClient['request']>[0], path: string, options?: CallOptions<T>) =>
      bound.request<T>(method, path, withKey(options)) as Promise<ClientResponse<T>>,
    get: (path, options) => bound.get(path, withKey(options)),
    post: (path, options) => bound.post(path, withKey(options)),
    put: (path, options) => bound.put(path, withKey(options)),
    patch: (path, options) => bound.patch(path, withKey(options)),
    delete: (path, options) => bound.delete(path, withKey(options)),
    with: (context) => keyedClient(client.with(context), step),
  };
  return keyed;
}
