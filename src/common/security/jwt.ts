// JWTs for one file id, as SeaweedFS's weed/security/jwt.go makes and checks them, so tokens pass
// between weed-ts and SeaweedFS tooling both ways: HS256 over the `[jwt.signing]` (writes and
// deletes) or `[jwt.signing.read]` (reads) key, claims exactly SeaweedFileIdClaims
// `{"fid":"3,01637037d6","exp":<unix seconds>}` (no exp when expires_after_seconds is 0, as
// SeaweedFS). The master signs one per assign or lookup; the volume server checks it against the
// fid the URL names. Signing and checking are jose's (a well-kept library; alg "none" and every
// algorithm but HS256 are refused by it), with the key imported once per process.
import type { IncomingMessage } from "node:http";
import { webcrypto } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { ErrorCode, WeedError } from "../errors.js";
import { formatFid, parseFid, parseFidPath, type FileId } from "../fid.js";
import type { JwtSigning, SecurityConfig } from "./config.js";

/** The only algorithm signed and accepted (SeaweedFS signs HS256 and accepts only HMAC). */
const ALGORITHM = "HS256";
/** Where SeaweedFS's GetJwt looks, in its order: `?jwt=`, `Authorization: Bearer`, cookie `AT`. */
export const jwtQueryParam = "jwt";
export const jwtCookieName = "AT";
const BEARER = "bearer ";

/** Why a token was refused: the 401 says which, never anything about the key. */
export type TokenRefusal = "missing" | "malformed" | "algorithm" | "signature" | "expired" | "claims" | "fid";

/** A request whose token does not hold for what it asks: 401 (HTTP), UNAUTHENTICATED (gRPC). */
export class TokenRefused extends WeedError {
  readonly reason: TokenRefusal;
  constructor(reason: TokenRefusal, message: string, options: ErrorOptions = {}) {
    super(ErrorCode.UNAUTHORIZED, message, options);
    this.name = "TokenRefused";
    this.reason = reason;
  }
}

/** jose's refusals, told apart by class (never by message text). */
function refusalOf(err: unknown, fid: string): TokenRefused {
  const cause = { cause: err };
  if (err instanceof joseErrors.JWTExpired) return new TokenRefused("expired", `jwt for ${fid} has expired`, cause);
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return new TokenRefused("algorithm", `jwt for ${fid} is not signed with ${ALGORITHM}`, cause);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new TokenRefused("signature", `jwt for ${fid}: signature verification failed`, cause);
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new TokenRefused("claims", `jwt for ${fid}: claim ${JSON.stringify(err.claim)} not valid now`, cause);
  if (err instanceof joseErrors.JOSEError) return new TokenRefused("malformed", `jwt for ${fid} is malformed`, cause);
  throw err;
}

/** The fid a URL path names, without SeaweedFS's `_N` suffix (a count>1 assign's token covers fid_1, fid_2...). */
export function tokenFidOfPath(path: string): FileId {
  const m = /^(\/\d+[,/][0-9a-fA-F]+)_\d+/.exec(path);
  return parseFidPath(m === null ? path : m[1]! + path.slice(m[0].length)).fid;
}

function sameFid(a: FileId, b: FileId): boolean {
  return a.volumeId === b.volumeId && a.key === b.key && a.cookie === b.cookie;
}

/** One signing key (`[jwt.signing]` or `[jwt.signing.read]`): signs and checks tokens for one fid. */
export class FidTokenKey {
  readonly expiresAfterSeconds: number;
  readonly #secret: Uint8Array;
  #key: Promise<webcrypto.CryptoKey> | undefined;

  constructor(signing: JwtSigning) {
    this.#secret = new TextEncoder().encode(signing.key);
    this.expiresAfterSeconds = signing.expiresAfterSeconds;
  }

  /** The WebCrypto key, imported once: jose would import a raw secret again on every call. */
  #cryptoKey(): Promise<webcrypto.CryptoKey> {
    this.#key ??= webcrypto.subtle.importKey("raw", this.#secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    return this.#key;
  }

  /** A token for `fid` ("3,01637037d6", as the master hands it out), valid expiresAfterSeconds. */
  async sign(fid: string): Promise<string> {
    const jwt = new SignJWT({ fid }).setProtectedHeader({ alg: ALGORITHM, typ: "JWT" });
    // exp is whole seconds: jose (as SeaweedFS) puts floor(now) + lifetime there, so a 1 s token
    // signed at x.999 s would be expired 1 ms later. One second more makes the lifetime at least
    // expires_after_seconds (and under one second more), never next to nothing.
    if (this.expiresAfterSeconds > 0) jwt.setExpirationTime(`${this.expiresAfterSeconds + 1}s`);
    return jwt.sign(await this.#cryptoKey());
  }

  /**
   * Resolves when `token` is signed with this key, not expired, and names `fid` (compared as
   * volume id, key and cookie, so "3,01637037d6" and "3,1637037d6" are one fid); throws
   * TokenRefused saying why not.
   */
  async verify(token: string | undefined, fid: FileId): Promise<void> {
    const wanted = formatFid(fid);
    if (token === undefined || token === "") throw new TokenRefused("missing", `missing jwt for ${wanted}`);
    let claim: unknown;
    try {
      const { payload } = await jwtVerify(token, await this.#cryptoKey(), { algorithms: [ALGORITHM] });
      claim = payload["fid"];
    } catch (err) {
      throw refusalOf(err, wanted);
    }
    let named: FileId | undefined;
    try {
      named = typeof claim === "string" && !claim.includes("_") ? parseFid(claim) : undefined;
    } catch {
      named = undefined;
    }
    if (named === undefined || !sameFid(named, fid)) {
      throw new TokenRefused("fid", `jwt is for fid ${JSON.stringify(claim ?? null)}, not ${wanted}`);
    }
  }
}

/** The keys of a security config: undefined where that protection is off. */
export interface FidTokens {
  write: FidTokenKey | undefined;
  read: FidTokenKey | undefined;
}

export function fidTokensOf(security: SecurityConfig | undefined): FidTokens {
  return {
    write: security?.jwtSigning === undefined ? undefined : new FidTokenKey(security.jwtSigning),
    read: security?.jwtSigningRead === undefined ? undefined : new FidTokenKey(security.jwtSigningRead),
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The token a request carries, where SeaweedFS's GetJwt looks and in its order: `?jwt=` (from
 * `query`, the URL's query string), `Authorization: Bearer <t>` (scheme in any case), cookie `AT`.
 */
export function tokenOf(req: IncomingMessage, query: string): string | undefined {
  if (query !== "") {
    const q = new URLSearchParams(query).get(jwtQueryParam);
    if (q !== null && q !== "") return q;
  }
  const auth = req.headers.authorization;
  if (auth !== undefined && auth.length > BEARER.length && auth.slice(0, BEARER.length).toLowerCase() === BEARER) {
    return auth.slice(BEARER.length);
  }
  const cookie = cookieValue(req.headers.cookie, jwtCookieName);
  return cookie === "" ? undefined : cookie;
}

/** `Authorization` header value for a token. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}
