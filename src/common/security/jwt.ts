// JWTs for one file id, as SeaweedFS's weed/security/jwt.go makes and checks them, so tokens pass
// between weed-ts and SeaweedFS tooling both ways: HS256 over the `[jwt.signing]` (writes and
// deletes) or `[jwt.signing.read]` (reads) key, claims exactly SeaweedFileIdClaims
// `{"fid":"3,01637037d6","exp":<unix seconds>}` (no exp when expires_after_seconds is 0, as
// SeaweedFS). The master signs one per assign or lookup; the volume server checks it against the
// fid the URL names. jose (a well-kept library) checks every token whose header is not the
// standard one (alg "none" and every algorithm but HS256 are refused by it), and does everything
// where no wall clock is given; the standard header's HMAC is node:crypto's (FidTokenKey says why).
import type { IncomingMessage } from "node:http";
import { createHmac, createSecretKey, webcrypto, type KeyObject } from "node:crypto";
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

/** Throws TokenRefused("fid") unless `claim` names `fid` (a claim with `_N` never does: the base fid is signed). */
function checkFid(claim: unknown, fid: FileId): void {
  let named: FileId | undefined;
  try {
    named = typeof claim === "string" && !claim.includes("_") ? parseFid(claim) : undefined;
  } catch {
    named = undefined;
  }
  if (named === undefined || !sameFid(named, fid)) {
    throw new TokenRefused("fid", `jwt is for fid ${JSON.stringify(claim ?? null)}, not ${formatFid(fid)}`);
  }
}

/** A fid exactly as parseFid accepts it without `_N`: volume id of 1..10 digits, 9..24 hex digits. */
const PLAIN_FID = /^(\d{1,10}),[0-9a-fA-F]{9,24}$/;
const VOLUME_ID_MAX = 0xffffffff;

/**
 * Whether `claim` is the fid `path` names, told from the text alone: a path "/<claim>" with a
 * valid plain fid (the path every client uploads to). Where this says no, checkFid decides.
 */
function namesPath(claim: unknown, path: string): boolean {
  if (typeof claim !== "string" || path.length !== claim.length + 1 || !path.endsWith(claim)) return false;
  const m = path.charCodeAt(0) === SLASH ? PLAIN_FID.exec(claim) : null;
  return m !== null && Number(m[1]) <= VOLUME_ID_MAX;
}

/** Equal strings, compared in time that does not depend on where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The claims jose requires to be numbers when present. */
const TIME_CLAIMS = ["exp", "nbf", "iat"] as const;
const SLASH = 0x2f;
const DOT = 0x2e;

/** base64url of `{"alg":"HS256","typ":"JWT"}`: the header SeaweedFS (golang-jwt) and this file sign with. */
const STANDARD_HEADER = Buffer.from(JSON.stringify({ alg: ALGORITHM, typ: "JWT" })).toString("base64url");

/** Unix seconds now (the wall clock: exp is wall-clock time); injected by the process that checks. */
export type WallClockSec = () => number;

/**
 * One signing key (`[jwt.signing]` or `[jwt.signing.read]`): signs and checks tokens for one fid.
 *
 * With a wall clock (`nowSec`), tokens in the standard header (every token SeaweedFS and this class
 * sign) are signed and checked with a synchronous HMAC (node:crypto), in a few microseconds, and
 * the claims checked as jose checks them (exp <= now is expired, nbf > now not yet valid, no
 * tolerance); jose checks any other header (alg none, another algorithm, extra parameters) and does
 * all the work when no clock is given. jose through WebCrypto costs ~50 us of CPU per sign or
 * verify on the thread pool, node:crypto's createHmac 3-5 us: a secured write pays one signature
 * at the master and one check at the volume server. (A hand-written JavaScript HMAC did ~1 us:
 * not worth owning crypto code for ~2% of a write's CPU.)
 */
export class FidTokenKey {
  readonly expiresAfterSeconds: number;
  readonly #secret: Uint8Array;
  readonly #macKey: KeyObject;
  readonly #nowSec: WallClockSec | undefined;
  #key: Promise<webcrypto.CryptoKey> | undefined;

  constructor(signing: JwtSigning, nowSec?: WallClockSec) {
    this.#secret = new TextEncoder().encode(signing.key);
    this.#macKey = createSecretKey(this.#secret);
    this.expiresAfterSeconds = signing.expiresAfterSeconds;
    this.#nowSec = nowSec;
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
    const now = this.signNow(fid);
    if (now !== undefined) return now;
    const jwt = new SignJWT({ fid }).setProtectedHeader({ alg: ALGORITHM, typ: "JWT" });
    const lifetimeSec = this.#lifetimeSec();
    if (lifetimeSec !== undefined) jwt.setExpirationTime(`${lifetimeSec}s`);
    return jwt.sign(await this.#cryptoKey());
  }

  /**
   * sign(), synchronously, when this key has a wall clock (undefined when not): an answer that
   * needs nothing else stays on the synchronous path, with no promise turn before it is written.
   */
  signNow(fid: string): string | undefined {
    if (this.#nowSec === undefined) return undefined;
    const lifetimeSec = this.#lifetimeSec();
    // SeaweedFileIdClaims' JSON, {"fid":..,"exp":..}, written out: JSON.stringify of an object costs
    // more than of the one string in it.
    const exp = lifetimeSec === undefined ? "" : `,"exp":${Math.floor(this.#nowSec()) + lifetimeSec}`;
    const claims = `{"fid":${JSON.stringify(fid)}${exp}}`;
    const signed = `${STANDARD_HEADER}.${Buffer.from(claims).toString("base64url")}`;
    return `${signed}.${this.#hmac(signed)}`;
  }

  /**
   * exp is whole seconds: jose (as SeaweedFS) puts floor(now) + lifetime there, so a 1 s token
   * signed at x.999 s would be expired 1 ms later. One second more makes the lifetime at least
   * expires_after_seconds (and under one second more), never next to nothing.
   */
  #lifetimeSec(): number | undefined {
    return this.expiresAfterSeconds > 0 ? this.expiresAfterSeconds + 1 : undefined;
  }

  /**
   * Resolves when `token` is signed with this key, not expired, and names `fid` (compared as
   * volume id, key and cookie, so "3,01637037d6" and "3,1637037d6" are one fid); throws
   * TokenRefused saying why not.
   */
  async verify(token: string | undefined, fid: FileId): Promise<void> {
    const fast = this.#fastClaims(token, () => formatFid(fid));
    checkFid(fast !== undefined ? fast.fid : await this.#claimByJose(token!, formatFid(fid)), fid);
  }

  /**
   * verify() for the fid a URL path names (tokenFidOfPath: a count>1 `_N` suffix is covered by the
   * first fid's token), for a path the caller has parsed (parseFidPath) already. Synchronous where
   * it can be: returns when the token holds, throws TokenRefused when not; a promise only when
   * jose must judge (another header, or no wall clock).
   */
  check(token: string | undefined, path: string): void | Promise<void> {
    const fast = this.#fastClaims(token, () => formatFid(tokenFidOfPath(path)));
    if (fast === undefined) return this.verify(token, tokenFidOfPath(path));
    if (!namesPath(fast.fid, path)) checkFid(fast.fid, tokenFidOfPath(path));
  }

  /** Refuses a missing token; the claims of one the HMAC path can judge, undefined when jose must. */
  #fastClaims(token: string | undefined, wanted: () => string): { fid: unknown } | undefined {
    if (token === undefined || token === "") throw new TokenRefused("missing", `missing jwt for ${wanted()}`);
    return this.#nowSec === undefined ? undefined : this.#claimsByHmac(token, wanted, this.#nowSec());
  }

  async #claimByJose(token: string, wanted: string): Promise<unknown> {
    try {
      const now = this.#nowSec === undefined ? {} : { currentDate: new Date(this.#nowSec() * 1000) };
      const { payload } = await jwtVerify(token, await this.#cryptoKey(), { algorithms: [ALGORITHM], ...now });
      return payload["fid"];
    } catch (err) {
      throw refusalOf(err, wanted);
    }
  }

  /**
   * The claims of a standard-header token, checked: the HMAC (constant time, canonical encoding:
   * the signature must be exactly the expected one's base64url), then exp, nbf and iat as jose
   * checks them. Undefined for another header or shape: jose's to judge.
   */
  /** HMAC-SHA256 of `message` in base64url (node:crypto, a few microseconds). */
  #hmac(message: string): string {
    return createHmac("sha256", this.#macKey).update(message).digest("base64url");
  }

  #claimsByHmac(token: string, wanted: () => string, now: number): { fid: unknown } | undefined {
    // Exactly three parts, the first the standard header (what split(".") would say, without the array).
    const headerEnd = STANDARD_HEADER.length;
    if (!token.startsWith(STANDARD_HEADER) || token.charCodeAt(headerEnd) !== DOT) return undefined;
    const payloadEnd = token.indexOf(".", headerEnd + 1);
    if (payloadEnd < 0 || token.indexOf(".", payloadEnd + 1) >= 0) return undefined;
    if (!sameText(token.slice(payloadEnd + 1), this.#hmac(token.slice(0, payloadEnd)))) {
      throw new TokenRefused("signature", `jwt for ${wanted()}: signature verification failed`);
    }
    const payload = token.slice(headerEnd + 1, payloadEnd);
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch (err) {
      throw new TokenRefused("malformed", `jwt for ${wanted()} is malformed`, { cause: err });
    }
    if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
      throw new TokenRefused("malformed", `jwt for ${wanted()} is malformed`);
    }
    const c = claims as Record<string, unknown>;
    for (const name of TIME_CLAIMS) {
      if (c[name] !== undefined && typeof c[name] !== "number")
        throw new TokenRefused("claims", `jwt for ${wanted()}: claim ${JSON.stringify(name)} not valid now`);
    }
    if (typeof c["exp"] === "number" && c["exp"] <= now)
      throw new TokenRefused("expired", `jwt for ${wanted()} has expired`);
    if (typeof c["nbf"] === "number" && c["nbf"] > now)
      throw new TokenRefused("claims", `jwt for ${wanted()}: claim "nbf" not valid now`);
    return { fid: c["fid"] };
  }
}

/** The keys of a security config: undefined where that protection is off. */
export interface FidTokens {
  write: FidTokenKey | undefined;
  read: FidTokenKey | undefined;
}

/** `nowSec`: the wall clock that makes signing and checking synchronous HMACs (see FidTokenKey). */
export function fidTokensOf(security: SecurityConfig | undefined, nowSec?: WallClockSec): FidTokens {
  return {
    write: security?.jwtSigning === undefined ? undefined : new FidTokenKey(security.jwtSigning, nowSec),
    read: security?.jwtSigningRead === undefined ? undefined : new FidTokenKey(security.jwtSigningRead, nowSec),
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
