import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { GatewayConfig } from './config.js';

/** A verified end user, remembered with their token until it expires (internal). */
export class Identity {
  /** Service tokens minted for this user, per upstream service (see ServiceTokenCache). */
  tokens: Map<string, MintedToken> | undefined = undefined;
  /** The rate-limit key of this user. */
  readonly consumerKey: string;

  constructor(
    /** The `sub` claim. */
    readonly id: string,
    /** From `scope` (space-separated) or `scp` (array or space-separated). */
    readonly scopes: readonly string[],
    /** When the token stops being accepted, epoch ms (its `exp` plus the clock tolerance). */
    readonly expiresAtMs: number,
  ) {
    this.consumerKey = `u:${id}`;
  }

  /** Whether every scope of `required` was granted. */
  hasScopes(required: readonly string[]): boolean {
    for (const scope of required) if (!this.scopes.includes(scope)) return false;
    return true;
  }
}

/** A service token kept for reuse (internal). */
export interface MintedToken {
  readonly header: string;
  readonly renewAtMs: number;
  readonly expiresAtMs: number;
  refreshing: boolean;
}

/** Why a request was not authenticated or not allowed. */
export type AuthErrorCode =
  | 'UNAUTHENTICATED'
  | 'INVALID_TOKEN'
  | 'TOKEN_EXPIRED'
  | 'INSUFFICIENT_SCOPE'
  | 'AUTH_UNAVAILABLE';

/**
 * A request failed authentication (401 with `WWW-Authenticate: Bearer`), lacked a scope (403
 * `INSUFFICIENT_SCOPE`), or the keys to verify it could not be fetched (503 `AUTH_UNAVAILABLE`).
 */
export class GatewayAuthError extends FlotillaError {
  override readonly name = 'GatewayAuthError';
  readonly retryable: boolean;
  /** The HTTP status to answer with. */
  readonly status: 401 | 403 | 503;
  /** The `WWW-Authenticate` challenge (RFC 6750), when there is one. */
  readonly challenge: string | undefined;

  constructor(
    code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown; scopes?: readonly string[] },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = code === 'AUTH_UNAVAILABLE';
    this.status = code === 'INSUFFICIENT_SCOPE' ? 403 : code === 'AUTH_UNAVAILABLE' ? 503 : 401;
    const description = message.replaceAll('"', "'");
    this.challenge =
      code === 'UNAUTHENTICATED'
        ? 'Bearer realm="flotilla"'
        : code === 'INSUFFICIENT_SCOPE'
          ? `Bearer realm="flotilla", error="insufficient_scope", scope="${(options?.scopes ?? []).join(' ')}"`
          : code === 'AUTH_UNAVAILABLE'
            ? undefined
            : `Bearer realm="flotilla", error="invalid_token", error_description="${description}"`;
  }
}

/** True when `err` is a {@link GatewayAuthError} of any code. */
export function isGatewayAuthError(err: unknown): err is GatewayAuthError {
  return (
    err instanceof GatewayAuthError ||
    ['UNAUTHENTICATED', 'INVALID_TOKEN', 'TOKEN_EXPIRED', 'INSUFFICIENT_SCOPE', 'AUTH_UNAVAILABLE'].some(
      (c) => hasFlotillaCode(err, c),
    )
  );
}

/** Verifies end-user JWTs, remembering verified ones until they expire (internal). */
export interface JwtVerifier {
  /** The identity of a token verified earlier and still valid at `nowMs`; no allocation on a hit. */
  cached(token: string, nowMs: number): Identity | undefined;
  /** Verifies a token; rejects with {@link GatewayAuthError}. */
  verify(token: string): Promise<Identity>;
}

type JwtConfig = NonNullable<GatewayConfig['auth']>['jwt'];

/** Options of {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** Where `env:NAME` secrets are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Wall clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Verified tokens remembered at once. @default 10000 */
  cacheSize?: number;
}

/**
 * Resolves `secret` (`env:NAME` reads the environment); returns a message when it cannot be used.
 * HS256 needs at least 32 bytes of key (RFC 7518 §3.2).
 */
export function resolveSecret(
  secret: string,
  env: Readonly<Record<string, string | undefined>>,
): { key: Uint8Array } | { problem: string } {
  let value = secret;
  if (secret.startsWith('env:')) {
    const name = secret.slice(4);
    const found = env[name];
    if (found === undefined || found === '') return { problem: `environment variable ${name} is not set` };
    value = found;
  }
  const key = new TextEncoder().encode(value);
  if (key.byteLength < 32)
    return {
      problem: `must be at least 32 bytes for HS256, got ${key.byteLength}${secret.startsWith('env:') ? ` (from ${secret})` : ''}`,
    };
  return { key };
}

/** Creates the verifier of a `auth.jwt` section (already validated). */
export function createJwtVerifier(config: JwtConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  const { env = process.env, now = Date.now, cacheSize = 10_000 } = options;
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (config.secret !== undefined) {
    const resolved = resolveSecret(config.secret, env);
    if ('problem' in resolved) throw new RangeError(`auth.jwt.secret ${resolved.problem}`);
    key = resolved.key;
    algorithms = ['HS256'];
  } else {
    key = createRemoteJWKSet(new URL(config.jwksUrl as string), {
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      timeoutDuration: 5_000,
    });
    algorithms = ['RS256', 'ES256'];
  }
  const toleranceMs = config.clockToleranceSec * 1000;
  const verifyOptions = {
    algorithms,
    clockTolerance: config.clockToleranceSec,
    requiredClaims: ['sub', 'exp'],
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };
  const cache = new Map<string, Identity>();

  return {
    cached(token, nowMs) {
      const hit = cache.get(token);
      if (hit === undefined) return undefined;
      if (hit.expiresAtMs > nowMs) return hit;
      cache.delete(token);
      return undefined;
    },
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as Uint8Array, {
          ...verifyOptions,
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw describe(err);
      }
      if (typeof payload.sub !== 'string' || payload.sub === '')
        throw new GatewayAuthError('INVALID_TOKEN', 'token has no "sub" claim');
      const identity = new Identity(
        payload.sub,
        scopesOf(payload),
        (payload.exp as number) * 1000 + toleranceMs,
      );
      if (cache.size >= cacheSize) {
        // The oldest entry goes (a Map iterates in insertion order).
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      cache.set(token, identity);
      return identity;
    },
  };
}

function scopesOf(payload: JWTPayload): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(' ').filter((s) => s !== '');
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

function describe(err: unknown): GatewayAuthError {
  if (err instanceof joseErrors.JWTExpired)
    return new GatewayAuthError('TOKEN_EXPIRED', 'token expired', { cause: err });
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new GatewayAuthError('INVALID_TOKEN', `token claim "${err.claim}" is invalid (${err.reason})`, {
      cause: err,
    });
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new GatewayAuthError('INVALID_TOKEN', 'token signature is invalid', { cause: err });
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return new GatewayAuthError('INVALID_TOKEN', 'token algorithm is not allowed', { cause: err });
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new GatewayAuthError('INVALID_TOKEN', 'no published key matches the token', { cause: err });
  if (
    err instanceof joseErrors.JWKSTimeout ||
    err instanceof joseErrors.JWKSInvalid ||
    !(err instanceof joseErrors.JOSEError)
  )
    return new GatewayAuthError('AUTH_UNAVAILABLE', 'the keys to verify tokens could not be fetched', {
      cause: err,
    });
  return new GatewayAuthError('INVALID_TOKEN', 'token is malformed', { cause: err });
}

/** The token of an `Authorization: Bearer …` header, or `undefined` for another scheme. */
export function bearerToken(header: string): string | undefined {
  // "Bearer " is 7 characters; the scheme is case-insensitive (RFC 9110 §11.1).
  if (header.length < 8 || header.charCodeAt(6) !== 32) return undefined;
  const scheme = header.slice(0, 6);
  if (scheme !== 'Bearer' && scheme.toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}
