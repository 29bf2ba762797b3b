// Who may do what on the master's HTTP port: the [guard] white list (and -whiteList) for writes
// and administration, CORS for browser pages. Reads (lookup, status, metrics, health) stay open,
// as in SeaweedFS.
//
// Forwarded requests: the master a client reached checks the client's own address (the socket's
// peer) before it forwards to the leader. The leader then trusts a request that carries the
// forwarding header AND comes from the address of one of the cluster's masters, even when that
// master's host is not on the white list (forwarding is the cluster's own traffic). The header
// alone is not trusted: a stranger sending it is checked against the white list like anyone.
//
// With [jwt.admin] key, the administrative routes also need an admin token (admin-token.ts) in
// `Authorization: Bearer`, checked on the master the client reached and again on the leader (the
// forwarder passes the header on): the white list says where from, the token says who.
import { lookup } from "node:dns/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { discardUnreadBody, sendJson } from "../../common/http-util.js";
import { adminCredentialOf, type AdminCredential } from "../../common/security/admin-credential.js";
import { tlsPeerCommonName } from "../../common/security/https.js";
import { TokenRefused } from "../../common/security/jwt.js";
import { CorsPolicy } from "../../common/security/cors.js";
import { normalizeAddress, WhiteListGuard } from "../../common/security/guard.js";
import type { SecurityConfig } from "../../common/security/config.js";
import type { ClusterView } from "../state/cluster-view.js";
import { forwardedBy } from "./leader-forwarder.js";

/** Routes that change the cluster's shape or delete data: an admin token when [jwt.admin] is set. */
const ADMIN_PATHS: ReadonlySet<string> = new Set([
  "/vol/grow",
  "/vol/vacuum",
  "/vol/vacuum/disable",
  "/vol/vacuum/enable",
  "/col/delete",
  "/cluster/raft/add",
  "/cluster/raft/remove",
  "/cluster/raft/transfer",
]);

/** Routes that write or change the cluster whatever their method (an assign via GET reserves ids). */
const GUARDED_PATHS: ReadonlySet<string> = new Set(["/dir/assign", "/submit", ...ADMIN_PATHS]);

/** How long a master host name's resolved addresses are reused: a re-addressed host is seen within it. */
const memberAddressTtlMs = 30_000;

function hostOf(id: string): string {
  if (id.startsWith("[")) return id.slice(1, id.indexOf("]"));
  const colon = id.lastIndexOf(":");
  return colon < 0 ? id : id.slice(0, colon);
}

export class MasterHttpAccess {
  readonly guard: WhiteListGuard;
  readonly cors: CorsPolicy;
  readonly #cluster: ClusterView;
  readonly #admin: AdminCredential | undefined;
  readonly #resolved = new Map<string, { addresses: readonly string[]; atMs: number }>();

  constructor(security: SecurityConfig | undefined, cluster: ClusterView) {
    this.guard = new WhiteListGuard(security?.whiteList ?? []);
    this.cors = new CorsPolicy(security?.corsAllowedOrigins ?? []);
    this.#cluster = cluster;
    this.#admin = adminCredentialOf(security);
  }

  /** True when the request may go on; otherwise it has been answered (403, 401 or a preflight). */
  admit(req: IncomingMessage, res: ServerResponse, path: string): boolean | Promise<boolean> {
    if (this.cors.handle(req, res)) return false;
    const listed = this.#listed(req, res, path);
    const admin = this.#admin;
    if (admin === undefined || !ADMIN_PATHS.has(path)) return listed;
    return Promise.resolve(listed).then((ok) => ok && this.#adminAdmits(admin, req, res));
  }

  /** The white list's answer (403 sent when refused). */
  #listed(req: IncomingMessage, res: ServerResponse, path: string): boolean | Promise<boolean> {
    if (this.guard.size === 0 || !this.#guarded(req, path)) return true;
    const peer = req.socket.remoteAddress;
    if (this.guard.allows(peer)) return true;
    if (forwardedBy(req).length === 0) return this.#refuse(req, res, peer);
    return this.#fromMember(peer).then((member) => member || this.#refuse(req, res, peer));
  }

  #guarded(req: IncomingMessage, path: string): boolean {
    const m = req.method;
    return GUARDED_PATHS.has(path) || (m !== "GET" && m !== "HEAD" && m !== "OPTIONS");
  }

  #refuse(req: IncomingMessage, res: ServerResponse, peer: string | undefined): false {
    const who = peer === undefined ? "an unknown address" : normalizeAddress(peer);
    // Its body is not read: drained (bounded) so the answer reaches a client still sending.
    discardUnreadBody(req, res);
    sendJson(res, 403, { error: `${who} is not on the white list ([guard] white_list, -whiteList)` });
    return false;
  }

  /** Whether the request holds the admin credential (certificate or token); answered 401 saying why when not. */
  async #adminAdmits(admin: AdminCredential, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    try {
      await admin.check({ authorization: req.headers.authorization, commonName: tlsPeerCommonName(req.socket) });
      return true;
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      discardUnreadBody(req, res);
      sendJson(res, 401, {
        error: `${err.message} (${admin.advice})`,
      });
      return false;
    }
  }

  /** Whether `peer` is the address of one of the cluster's masters (ids resolved, cached). */
  async #fromMember(peer: string | undefined): Promise<boolean> {
    if (peer === undefined) return false;
    const ip = normalizeAddress(peer);
    for (const m of this.#cluster.members()) {
      const addresses = await this.#addressesOf(hostOf(m.id));
      if (addresses.includes(ip)) return true;
    }
    return false;
  }

  async #addressesOf(host: string): Promise<readonly string[]> {
    if (isIP(host) !== 0) return [normalizeAddress(host)];
    const cached = this.#resolved.get(host);
    if (cached !== undefined && performance.now() - cached.atMs < memberAddressTtlMs) return cached.addresses;
    let addresses: string[];
    try {
      addresses = (await lookup(host, { all: true })).map((a) => normalizeAddress(a.address));
    } catch {
      addresses = [];
    }
    this.#resolved.set(host, { addresses, atMs: performance.now() });
    return addresses;
  }
}
