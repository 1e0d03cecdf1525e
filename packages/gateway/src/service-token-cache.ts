import type { ServiceTokens } from '@flotilla/service';
import type { Identity, MintedToken } from './auth.js';

/**
 * The `authorization` values the gateway sends upstream: a service token (from
 * @flotilla/service's `serviceTokens`) per (upstream service, end user), kept on the user's
 * {@link Identity} so the hot path is two map lookups and no string building. A token is
 * renewed in the background once 85% of its life is gone (after `serviceTokens` stops handing
 * out its own cached copy, at 80%) and used until 5 s before it expires, so a request never
 * waits for a signature after the first one (internal).
 */
export class ServiceTokenCache {
  private readonly anonymous = new Map<string, MintedToken>();

  constructor(
    private readonly tokens: ServiceTokens,
    /** Called when a background renewal fails (the current token stays in use until it expires). */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The header value for a call to `service` for `user`, when one is ready; renews in the background. */
  cached(service: string, user: Identity | undefined, nowMs: number): string | undefined {
    const entry = user === undefined ? this.anonymous.get(service) : user.tokens?.get(service);
    if (entry === undefined || entry.expiresAtMs <= nowMs) return undefined;
    if (entry.renewAtMs <= nowMs && !entry.refreshing) {
      entry.refreshing = true;
      this.mint(service, user).catch((err: unknown) => {
        entry.refreshing = false;
        this.onError(err);
      });
    }
    return entry.header;
  }

  /** Mints (or re-mints) the header value for a call to `service` for `user`. */
  async mint(service: string, user: Identity | undefined): Promise<string> {
    const token = await this.tokens.mint(
      service,
      user === undefined ? undefined : { id: user.id, scopes: user.scopes },
    );
    // The token's own claims say how old it is: `serviceTokens` may hand out a copy minted earlier.
    const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    const entry: MintedToken = {
      header: `Bearer ${token}`,
      renewAtMs: (iat + (exp - iat) * 0.85) * 1000,
      expiresAtMs: (exp - 5) * 1000,
      refreshing: false,
    };
    if (user === undefined) this.anonymous.set(service, entry);
    else {
      user.tokens ??= new Map();
      user.tokens.set(service, entry);
    }
    return entry.header;
  }
}
