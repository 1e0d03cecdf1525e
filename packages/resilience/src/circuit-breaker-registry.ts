import { show } from './breaker-strategy.js';
import {
  type CircuitBreakerEvent,
  type CircuitBreakerOptions,
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
} from './circuit-breaker.js';
import { type Disposable, Emitter, type Listener } from './disposable.js';
import type { PolicySnapshot } from './metrics.js';

/** Options of {@link circuitBreakerRegistry}. */
export interface CircuitBreakerRegistryOptions {
  /**
   * Options of the breaker for `key`, called once when the key is first seen. Return a fresh
   * strategy each time (`breaker: consecutiveBreaker(5)` inside the function): strategies are
   * stateful and belong to one breaker.
   */
  create: (key: string) => CircuitBreakerOptions;
  /**
   * Breakers kept at most. When a new key arrives at the limit, the least recently used closed
   * breaker is dropped; one that is not closed (open, half-open, isolated) only when none is.
   * @default 1000
   */
  maxSize?: number;
}

/** An event of one of the registry's breakers, tagged with its key. */
export interface CircuitBreakerRegistryEvent {
  /** The key of the breaker that emitted it. */
  readonly key: string;
  /** The breaker's event. */
  readonly event: CircuitBreakerEvent;
}

/** Circuit breakers by key (downstream host, route, tenant), created on first use. */
export interface CircuitBreakerRegistry {
  /** The breaker for `key`, created on first use; marks it as recently used. */
  get(key: string): CircuitBreakerPolicy;
  /** Whether a breaker for `key` exists (does not mark it as used). */
  has(key: string): boolean;
  /** Forgets the breaker for `key`; returns whether there was one. */
  delete(key: string): boolean;
  /** The keys, least recently used first. */
  keys(): IterableIterator<string>;
  /** The number of breakers held. */
  readonly size: number;
  /** The snapshot of every breaker, by key. */
  snapshot(): Record<string, PolicySnapshot>;
  /** Subscribes to the events of every breaker, present and future, tagged with its key. */
  onEvent(listener: Listener<CircuitBreakerRegistryEvent>): Disposable;
}

/**
 * Keeps one circuit breaker per key, so one failing host or tenant does not open the circuit
 * for the others. Bounded: beyond `maxSize` keys, the least recently used closed breaker goes.
 *
 * @example
 * const breakers = circuitBreakerRegistry({
 *   create: (host) => ({ name: `upstream:${host}`, breaker: consecutiveBreaker(5), halfOpenAfterMs: 5_000 }),
 * });
 * const url = 'http://inventory.internal/stock';
 * const res = await breakers.get(new URL(url).host).execute(({ signal }) => fetch(url, { signal }));
 */
export function circuitBreakerRegistry(options: CircuitBreakerRegistryOptions): CircuitBreakerRegistry {
  return new Registry(options);
}

interface Entry {
  readonly breaker: CircuitBreakerPolicy;
  /** The registry's subscription to the breaker's events, while the registry has listeners. */
  subscription: Disposable | undefined;
}

class Registry implements CircuitBreakerRegistry {
  private readonly create: (key: string) => CircuitBreakerOptions;
  private readonly maxSize: number;
  /** Insertion order is recency: a used entry is moved to the end. */
  private readonly entries: Map<string, Entry>;
  private readonly events: Emitter<CircuitBreakerRegistryEvent>;

  constructor(options: CircuitBreakerRegistryOptions) {
    if (typeof options?.create !== 'function')
      throw new TypeError(`circuitBreakerRegistry.create must be a function, got ${show(options?.create)}`);
    const maxSize = options.maxSize ?? 1000;
    if (typeof maxSize !== 'number' || !Number.isInteger(maxSize) || maxSize < 1)
      throw new RangeError(`circuitBreakerRegistry.maxSize must be an integer >= 1, got ${show(maxSize)}`);
    this.create = options.create;
    this.maxSize = maxSize;
    this.entries = new Map();
    this.events = new Emitter();
  }

  get(key: string): CircuitBreakerPolicy {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, found);
      return found.breaker;
    }
    const options = this.create(key);
    const breaker = circuitBreaker({ ...options, name: options.name ?? `circuit-breaker:${key}` });
    if (this.entries.size >= this.maxSize) this.evict();
    const entry: Entry = { breaker, subscription: undefined };
    if (this.events.active) this.subscribe(key, entry);
    this.entries.set(key, entry);
    return breaker;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    entry.subscription?.dispose();
    return this.entries.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }

  snapshot(): Record<string, PolicySnapshot> {
    return Object.fromEntries(Array.from(this.entries, ([key, { breaker }]) => [key, breaker.snapshot()]));
  }

  onEvent(listener: Listener<CircuitBreakerRegistryEvent>): Disposable {
    // Breakers are only subscribed to while someone listens: a listener makes a breaker time
    // every call, which an unobserved registry should not pay for.
    const first = !this.events.active;
    const subscription = this.events.on(listener);
    if (first) for (const [key, entry] of this.entries) this.subscribe(key, entry);
    return {
      dispose: () => {
        subscription.dispose();
        if (this.events.active) return;
        for (const entry of this.entries.values()) {
          entry.subscription?.dispose();
          entry.subscription = undefined;
        }
      },
    };
  }

  private subscribe(key: string, entry: Entry): void {
    entry.subscription ??= entry.breaker.onEvent((event) => this.events.emit({ key, event }));
  }

  /** Drops the least recently used closed breaker, or the least recently used one if none is closed. */
  private evict(): void {
    let victim: string | undefined;
    for (const [key, { breaker }] of this.entries) {
      victim ??= key;
      if (breaker.state === CircuitState.Closed) {
        victim = key;
        break;
      }
    }
    if (victim !== undefined) this.delete(victim);
  }
}
