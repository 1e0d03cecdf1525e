/** Decides whether an error is one a policy should act on (retry, count as failure, fall back). */
export type ErrorFilter = (error: unknown) => boolean;

/** Decides whether a returned value should be treated as a failure (a 503 response, say). */
export type ResultFilter<T = unknown> = (value: T) => boolean;

/** Acts on every error. The default of every policy. */
export const handleAll: ErrorFilter = () => true;

/** Acts on no error: the policy only watches results (with a result filter) or passes errors through. */
export const handleNone: ErrorFilter = () => false;

/**
 * Acts on errors that are instances of one of `types`, optionally only when `when` also holds.
 *
 * @example
 * retry({ handle: handleType(TypeError), maxAttempts: 3 });
 */
export function handleType<C extends ErrorClass>(
  types: C | readonly C[],
  when?: (error: InstanceType<C>) => boolean,
): ErrorFilter {
  const list: readonly C[] = Array.isArray(types) ? types : [types as C];
  return (error) =>
    list.some((t) => error instanceof t) && (when === undefined || when(error as InstanceType<C>));
}

/** A class of errors, for {@link handleType}. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/** Acts on errors for which `predicate` returns true. */
export function handleWhen(predicate: (error: unknown) => boolean): ErrorFilter {
  return predicate;
}
