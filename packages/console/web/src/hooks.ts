// Small hooks shared by the pages: polled API reads and button actions.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api.js';

/** The state of a read: its last data, the error of the last attempt, whether one is in flight. */
export interface Loaded<T> {
  readonly data: T | null;
  readonly error: string | null;
  readonly loading: boolean;
  /** Reads again now. */
  readonly reload: () => void;
}

/**
 * GETs `path` (under the API base) now, whenever `path` changes, and every `everyMs` after that
 * (never when `everyMs` is 0); `null` path reads nothing. Keeps the last data across errors.
 */
export function usePoll<T>(path: string | null, everyMs: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;

  // A new path starts from nothing, so one resource's data never shows under another's name.
  useEffect(() => {
    setData(null);
    setError(null);
  }, [path]);

  useEffect(() => {
    if (path === null) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      setLoading(true);
      try {
        const next = await api<T>('GET', path);
        if (cancelled || current.current !== path) return;
        setData(next);
        setError(null);
      } catch (e) {
        if (cancelled) return;
        setError((e as Error).message);
      } finally {
        if (!cancelled) {
          setLoading(false);
          if (everyMs > 0) timer = setTimeout(() => void read(), everyMs);
        }
      }
    };
    void read();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [path, everyMs, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** The outcome of the last action, as shown beside its button. */
export interface ActionResult {
  readonly ok: boolean;
  readonly message: string;
}

/** A button action: run it, and know whether it is running and how it ended. */
export interface Action {
  readonly pending: boolean;
  readonly result: ActionResult | null;
  /** Runs `work`; its string result (or `done`) is the success message, an error's message the failure. */
  readonly run: (work: () => Promise<string | undefined>) => Promise<void>;
  readonly clear: () => void;
}

/** State for a button that calls the API. */
export function useAction(): Action {
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<ActionResult | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  const run = useCallback(async (work: () => Promise<string | undefined>) => {
    setPending(true);
    setResult(null);
    try {
      const message = await work();
      if (mounted.current) setResult({ ok: true, message: message ?? 'done' });
    } catch (e) {
      const message = e instanceof ApiError ? e.message : `failed: ${(e as Error).message}`;
      if (mounted.current) setResult({ ok: false, message });
    } finally {
      if (mounted.current) setPending(false);
    }
  }, []);
  const clear = useCallback(() => setResult(null), []);
  return { pending, result, run, clear };
}
