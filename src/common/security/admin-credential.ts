// What counts as the admin credential (beyond SeaweedFS), on HTTP and gRPC alike: a client
// certificate whose common name `[guard] admin_commonNames` lists (over [grpc] mutual TLS, or
// HTTPS whose server section sets `ca`), or an admin token signed with `[jwt.admin] key`
// (admin-token.ts). Either suffices; with neither configured, administration needs no credential
// (an open cluster, or one the white list alone guards).
//
// A certificate is checked by the TLS handshake (chain to the CA) before its name is read here,
// so the name is as trustworthy as the CA. The masters' own calls count too: with names and no
// key, the certificates the masters dial with (the leader allocates volumes, repairs, forwards
// membership changes) must be listed, as the shell's operators' are.
import type { SecurityConfig } from "./config.js";
import { AdminTokenKey, bearerTokenOf } from "./admin-token.js";
import { TokenRefused } from "./jwt.js";

/** Who is asking: the request's Authorization header and the client certificate's common name. */
export interface AdminCaller {
  authorization: string | undefined;
  /** The common name of a client certificate the handshake verified; undefined without one. */
  commonName: string | undefined;
}

export class AdminCredential {
  readonly #key: AdminTokenKey | undefined;
  readonly #names: ReadonlySet<string>;

  constructor(key: AdminTokenKey | undefined, commonNames: readonly string[]) {
    this.#key = key;
    this.#names = new Set(commonNames);
  }

  /** Resolves when `caller` holds the credential; throws TokenRefused (401, UNAUTHENTICATED) saying why not. */
  async check(caller: AdminCaller): Promise<void> {
    if (caller.commonName !== undefined && this.#names.has(caller.commonName)) return;
    if (this.#key !== undefined) return this.#key.verify(bearerTokenOf(caller.authorization));
    const who = caller.commonName === undefined ? "no client certificate" : `client certificate ${caller.commonName}`;
    throw new TokenRefused("missing", `${who} is not an admin name ([guard] admin_commonNames)`);
  }

  /** What a refused caller is told to send. */
  get advice(): string {
    const names = "a client certificate named in [guard] admin_commonNames";
    if (this.#key === undefined) return names;
    if (this.#names.size === 0) return "[jwt.admin] key is set: send Authorization: Bearer <admin token>";
    return `${names}, or Authorization: Bearer <admin token> ([jwt.admin] key)`;
  }
}

/** The admin credential of a security config; undefined where administration needs none. */
export function adminCredentialOf(security: SecurityConfig | undefined): AdminCredential | undefined {
  const names = security?.adminCommonNames ?? [];
  const key = security?.jwtAdmin === undefined ? undefined : new AdminTokenKey(security.jwtAdmin.key);
  return key === undefined && names.length === 0 ? undefined : new AdminCredential(key, names);
}
