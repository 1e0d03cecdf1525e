// @flotilla/service exports its TraceContext and Tracer; the runner only needs their shape, so
// the structural types below accept the service's tracer (and a test recorder) as they are.
import { childContext, formatTraceparent, parseTraceparent, type TraceContext } from '@flotilla/service';

export { childContext, formatTraceparent, parseTraceparent, type TraceContext };

/** A span being recorded (the part of @flotilla/service's `ActiveSpan` the runner uses). */
export interface SagaSpan {
  readonly context: TraceContext;
  setAttribute(key: string, value: string | number | boolean): void;
  end(status?: 'ok' | 'error'): void;
}

/** Records a span per step attempt (pass the service's `tracer`). */
export interface SagaTracer {
  startSpan(
    name: string,
    options: {
      kind: 'internal';
      parent?: TraceContext | undefined;
      attributes?: Record<string, string | number | boolean>;
    },
  ): SagaSpan;
}
