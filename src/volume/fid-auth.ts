// The JWT check of a fid request (SeaweedFS maybeCheckJwtAuthorization): with [jwt.signing], an
// upload or delete needs a write token for the fid its URL names; with [jwt.signing.read], a read
// needs a read token. No key, no check (an open cluster answers as before, synchronously).
import type { IncomingMessage } from "node:http";
import { tokenFidOfPath, tokenOf, type FidTokenKey } from "../common/security/jwt.js";

/**
 * Resolves with the request's token when it holds, under `key`, for the fid `path` names;
 * rejects with TokenRefused (401 {"error": why}) otherwise. The token is
 * handed on to replicas and to a holder a read is proxied to, which check it again.
 */
export async function authorizeFid(
  key: FidTokenKey,
  req: IncomingMessage,
  path: string,
  query: string,
): Promise<string> {
  const token = tokenOf(req, query);
  await key.verify(token, tokenFidOfPath(path));
  return token!;
}

/**
 * authorizeFid() for a `path` the handler has parsed (parseFidPath) already, synchronously where
 * the token's check is (FidTokenKey.check): the token, or a promise of it when jose must judge;
 * throws TokenRefused. An upload's check is on every secured write's path: no promise turn for it.
 */
export function authorizeFidNow(
  key: FidTokenKey,
  req: IncomingMessage,
  path: string,
  query: string,
): string | Promise<string> {
  const token = tokenOf(req, query);
  const pending = key.check(token, path);
  return pending === undefined ? token! : pending.then(() => token!);
}
