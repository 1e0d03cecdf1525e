import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/** The end user on whose behalf a call is made, carried inside the signed service token. */
export interface EndUser {
  /** The user's id (the `sub` claim of their login token). */
  readonly id: string;
  /** What the user may do, e.g. `["orders:write"]`. */
  readonly scopes: readonly string[];
}

/** Who is calling: the verified content of a service token. */
export interface CallerIdentity {
  /** The calling service (`iss`). */
  readonly service: string;
  /** The end user the call is made for, if any. */
  readonly user?: EndUser;
}

/** Raised when a service token is missing, malformed, expired, for another audience or badly signed. */
export class InvalidTokenError extends FlotillaError {
  override readonly name = 'InvalidTokenError';
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_TOKEN', message, options);
  }
}

/** True when `err` is an {@link InvalidTokenError}. */
export function isInvalidTokenError(err: unknown): err is InvalidTokenError {
  return hasFlotillaCode(err, 'INVALID_TOKEN');
}

/** Options of {@link serviceTokens}. */
export interface ServiceTokensOptions {
  /** This service's name: the issuer of the tokens it mints and the audience it accepts. */
  service: string;
  /** The HS256 key shared by the services of one deployment; at least 32 bytes. */
  key: string | Uint8Array;
  /**
   * Lifetime of a minted token, in seconds.
   * @default 60
   */
  ttlSeconds?: number;
  /**
   * Verified tokens remembered (until they expire), so a caller reusing its token costs one
   * lookup instead of one HMAC per request.
   * @default 10000
   */
  cacheSize?: number;
  /** Wall clock in epoch milliseconds (tests move it). @default Date.now */
  now?: () => number;
}

/** Mints and verifies the short-lived tokens that services present to each other. */
export interface ServiceTokens {
  /** A token for calling `audience`, on behalf of `user` if given. Reused until 80% of its life. */
  mint(audience: string, user?: EndUser): Promise<string>;
  /** Verifies a token addressed to this service; rejects with {@link InvalidTokenError}. */
  verify(token: string): Promise<CallerIdentity>;
  /** The identity of a token verified before and not expired yet, without waiting; else `undefined`. */
  verified(token: string): CallerIdentity | undefined;
}

/**
 * Service-to-service trust: every internal call carries a JWT (HS256, signed with a key from
 * configuration, via `jose`) that names the calling service (`iss`), the called one (`aud`) and
 * the end user (`sub`, `scope`). The end user's identity therefore cannot be forged by a client
 * setting a header.
 *
 * @example
 * const tokens = serviceTokens({ service: 'order', key: process.env.FLOTILLA_SERVICE_KEY! });
 * const token = await tokens.mint('payment', { id: 'u1', scopes: ['orders:write'] });
 */
export function serviceTokens(options: ServiceTokensOptions): ServiceTokens {
  const { service, ttlSeconds = 60, cacheSize = 10_000, now = Date.now } = options;
  const key = typeof options.key === 'string' ? new TextEncoder().encode(options.key) : options.key;
  if (key.byteLength < 32)
    throw new RangeError(`serviceTokens.key must be at least 32 bytes, got ${key.byteLength}`);
  if (!(ttlSeconds >= 5)) throw new RangeError(`serviceTokens.ttlSeconds must be >= 5, got ${ttlSeconds}`);

  const minted = new Map<string, { token: string; renewAt: number }>();
  const verified = new Map<string, { identity: CallerIdentity; expiresAt: number }>();

  return {
    async mint(audience, user) {
      const cacheKey =
        user === undefined ? audience : `${audience}\u0000${user.id}\u0000${user.scopes.join(' ')}`;
      const t = now();
      const hit = minted.get(cacheKey);
      if (hit !== undefined && hit.renewAt > t) return hit.token;
      const iat = Math.floor(t / 1000);
      const jwt = new SignJWT(user === undefined ? {} : { scope: user.scopes.join(' ') })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(service)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds);
      if (user !== undefined) jwt.setSubject(user.id);
      const token = await jwt.sign(key);
      if (minted.size >= 1000) minted.clear();
      minted.set(cacheKey, { token, renewAt: t + ttlSeconds * 800 });
      return token;
    },

    verified(token) {
      const hit = verified.get(token);
      if (hit === undefined || hit.expiresAt <= now()) return undefined;
      return hit.identity;
    },

    async verify(token) {
      const t = now();
      const hit = verified.get(token);
      if (hit !== undefined) {
        if (hit.expiresAt > t) return hit.identity;
        verified.delete(token);
      }
      let payload: { iss?: string; sub?: string; scope?: unknown; exp?: number };
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          audience: service,
          currentDate: new Date(t),
          requiredClaims: ['iss', 'exp'],
        }));
      } catch (err) {
        throw new InvalidTokenError(describe(err), { cause: err });
      }
      const identity: CallerIdentity = {
        service: payload.iss as string,
        ...(payload.sub === undefined
          ? {}
          : {
              user: {
                id: payload.sub,
                scopes:
                  typeof payload.scope === 'string' && payload.scope !== '' ? payload.scope.split(' ') : [],
              },
            }),
      };
      if (verified.size >= cacheSize) {
        // Drop the oldest entry (Map keeps insertion order).
        const oldest = verified.keys().next();
        if (oldest.done !== true) verified.delete(oldest.value);
      }
      verified.set(token, { identity, expiresAt: (payload.exp as number) * 1000 });
      return identity;
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'service token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `service token claim "${err.claim}" is invalid`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'service token signature is invalid';
  return 'service token is malformed';
}
