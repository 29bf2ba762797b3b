// The admin credential ([jwt.admin] key, beyond SeaweedFS): an HS256 JWT signed with the admin key,
// claims `{"admin":true,"exp":<unix seconds>}`, sent as `Authorization: Bearer <token>` on the
// master's administrative HTTP routes (membership changes, /vol/grow, vacuum, collection delete).
// Whoever holds the key mints its own short-lived token per call (the shell, a joining master);
// nothing hands admin tokens out. Admin calls are rare, so jose does all the signing and checking
// (the ~50 us it costs does not matter here; jwt.ts's synchronous HMAC is for the write path).
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { SecurityConfig } from "./config.js";
import { bearer, TokenRefused } from "./jwt.js";

/**
 * How long a minted admin token holds: enough for one call to be forwarded to the leader and
 * wait out an election (leaderWaitMs is a few seconds), short enough that a token copied from a
 * log or a proxy is useless a minute later.
 */
export const adminTokenLifetimeSec = 60;

const ALGORITHM = "HS256";

/** jose's refusals, told apart by class (never by message text). */
function refusalOf(err: unknown): TokenRefused {
  const cause = { cause: err };
  if (err instanceof joseErrors.JWTExpired) return new TokenRefused("expired", "admin token has expired", cause);
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return new TokenRefused("algorithm", `admin token is not signed with ${ALGORITHM}`, cause);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new TokenRefused("signature", "admin token: signature verification failed", cause);
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new TokenRefused("claims", `admin token: claim ${JSON.stringify(err.claim)} missing or not valid`, cause);
  if (err instanceof joseErrors.JOSEError) return new TokenRefused("malformed", "admin token is malformed", cause);
  throw err;
}

/** The `[jwt.admin]` key: mints and checks admin tokens. */
export class AdminTokenKey {
  readonly #secret: Uint8Array;

  constructor(key: string) {
    this.#secret = new TextEncoder().encode(key);
  }

  /** A token valid adminTokenLifetimeSec from now; `expSec` (unix seconds) instead, for tests. */
  mint(expSec?: number): Promise<string> {
    return new SignJWT({ admin: true })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setExpirationTime(expSec ?? `${adminTokenLifetimeSec}s`)
      .sign(this.#secret);
  }

  /** The `Authorization` header value of a freshly minted token. */
  async authorization(): Promise<string> {
    return bearer(await this.mint());
  }

  /**
   * Resolves when `token` is signed with this key, has an exp still ahead (a token without exp is
   * refused: an admin credential that never expires is not one) and says admin: true; throws
   * TokenRefused saying why not.
   */
  async verify(token: string | undefined): Promise<void> {
    if (token === undefined || token === "") throw new TokenRefused("missing", "missing admin token");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#secret, { algorithms: [ALGORITHM], requiredClaims: ["exp"] }));
    } catch (err) {
      throw refusalOf(err);
    }
    if (payload["admin"] !== true) throw new TokenRefused("claims", 'admin token: claim "admin" is not true');
  }
}

/** The admin key of a security config; undefined where administration needs no token. */
export function adminKeyOf(security: SecurityConfig | undefined): AdminTokenKey | undefined {
  return security?.jwtAdmin === undefined ? undefined : new AdminTokenKey(security.jwtAdmin.key);
}

/** The token of an `Authorization: Bearer <token>` header (scheme in any case); only there for admin. */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  const m = authorization === undefined ? null : /^bearer +(\S+)\s*$/i.exec(authorization);
  return m === null ? undefined : m[1];
}
