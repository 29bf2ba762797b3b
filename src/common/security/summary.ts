// Which protections are on, as /cluster/status ("Security"), the status page and
// `weed-ts shell cluster.status` show them: booleans only, never a key or a path.
import { securityEnabled, type SecurityConfig } from "./config.js";

export interface SecuritySummary {
  /** Any protection on (false: anyone who can reach the ports can write, delete, administer). */
  Enabled: boolean;
  /** [jwt.signing]: writes and deletes need a token. */
  JwtWrite: boolean;
  /** [jwt.signing.read]: reads need a token. */
  JwtRead: boolean;
  /** [jwt.admin]: administration needs an admin token. */
  JwtAdmin: boolean;
  /** [grpc] ca and certificates: mutual TLS on gRPC. */
  GrpcTls: boolean;
  /** [https.master]: this master's HTTP port is HTTPS. */
  HttpsMaster: boolean;
  /** [https.volume]. */
  HttpsVolume: boolean;
  /** Entries of [guard] white_list and -whiteList (0: everyone may write). */
  WhiteList: number;
  /** -cors.allowedOrigins set: some browser origins may write. */
  CorsWrites: boolean;
}

export function securitySummary(s: SecurityConfig | undefined): SecuritySummary {
  const c = s ?? { whiteList: [] };
  return {
    Enabled: securityEnabled(c),
    JwtWrite: c.jwtSigning !== undefined,
    JwtRead: c.jwtSigningRead !== undefined,
    JwtAdmin: c.jwtAdmin !== undefined,
    GrpcTls: c.grpc !== undefined,
    HttpsMaster: c.httpsMaster !== undefined,
    HttpsVolume: c.httpsVolume !== undefined,
    WhiteList: c.whiteList.length,
    CorsWrites: (c.corsAllowedOrigins ?? []).length > 0,
  };
}

/** One line for logs and the shell: "on: jwt write, grpc tls, white list (2)" or "off". */
export function describeSecurity(s: SecuritySummary): string {
  const on: string[] = [];
  if (s.JwtWrite) on.push("jwt write");
  if (s.JwtRead) on.push("jwt read");
  if (s.JwtAdmin) on.push("jwt admin");
  if (s.GrpcTls) on.push("grpc mutual tls");
  if (s.HttpsMaster) on.push("https master");
  if (s.HttpsVolume) on.push("https volume");
  if (s.WhiteList > 0) on.push(`white list (${s.WhiteList})`);
  if (s.CorsWrites) on.push("cors writes from listed origins");
  return s.Enabled ? `on: ${on.join(", ")}` : on.length === 0 ? "off" : `off (${on.join(", ")})`;
}
