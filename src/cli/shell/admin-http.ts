// The shell's administrative HTTP calls to a master (membership changes, vacuum, ...): POST with
// an admin token when the shell's security.toml has [jwt.admin] key (an HTTPS client certificate
// with an admin name goes with every call anyway); the master's JSON error becomes the thrown message.
import { request } from "undici";
import { adminKeyOf } from "../../common/security/admin-token.js";
import { httpOrigin } from "../../common/security/https.js";
import type { ShellContext } from "./context.js";

/** The largest answer read: the topology JSON of a large cluster is a few MB. */
const adminAnswerBytesMax = 64 * 1024 * 1024;

/** POSTs `pathAndQuery` to the shell's master; resolves with the 200 answer's JSON. */
export async function adminPost<T>(ctx: ShellContext, pathAndQuery: string, timeoutMs: number): Promise<T> {
  const admin = adminKeyOf(ctx.security);
  const r = await request(`${httpOrigin(ctx.master)}${pathAndQuery}`, {
    method: "POST",
    headers: admin === undefined ? {} : { authorization: await admin.authorization() },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await r.body.text();
  if (text.length > adminAnswerBytesMax) throw new Error(`${ctx.master} answered ${text.length} bytes: too large`);
  let body: T & { error?: string };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${ctx.master} answered ${r.statusCode}: ${text.slice(0, 200)}`);
  }
  if (r.statusCode !== 200) throw new Error(body.error ?? `${ctx.master} answered ${r.statusCode}`);
  return body;
}
