// What security.toml says, once parsed and checked (SeaweedFS's keys; weed-ts's own additions
// marked). Every part is optional: an absent section turns that protection off, and an empty
// SecurityConfig is an open cluster, as today on loopback. Loaded by ./load.ts; consumed by the
// servers and clients, which never read the file themselves.

/** `[jwt.signing]` or `[jwt.signing.read]`: an HMAC-SHA256 key and a token lifetime. */
export interface JwtSigning {
  /** The shared secret (non-empty); tokens are HS256 as SeaweedFS's. */
  key: string;
  /** Lifetime of a token the master hands out; SeaweedFS's defaults: 10 s write, 60 s read. */
  expiresAfterSeconds: number;
}

/** A PEM certificate and its key, as paths (read when the process starts). */
export interface CertKeyFiles {
  cert: string;
  key: string;
}

/** `[grpc.master]`, `[grpc.volume]`: a server's certificate, and which client names it admits. */
export interface GrpcServerTls extends CertKeyFiles {
  /** `allowed_commonNames` (comma list in the file): empty = any certificate signed by the CA. */
  allowedCommonNames: readonly string[];
}

/** `[grpc]` and its sub-sections: mutual TLS on every gRPC port (heartbeats and Raft included). */
export interface GrpcTlsConfig {
  /** `[grpc] ca`: the CA that signs every peer's certificate. */
  ca: string;
  master?: GrpcServerTls;
  volume?: GrpcServerTls;
  /** `[grpc.client]`: the certificate this process presents when it calls another's gRPC port. */
  client?: CertKeyFiles;
}

/** `[https.master]`, `[https.volume]`: HTTPS on the HTTP port. */
export interface HttpsServerConfig extends CertKeyFiles {
  /** `ca`: when set, clients must present a certificate signed by it. */
  ca?: string;
}

/** `[https.client]`: how this process calls other HTTPS ports. */
export interface HttpsClientConfig {
  enabled: boolean;
  cert?: string;
  key?: string;
  ca?: string;
  /** `insecure_skip_verify`: accept any server certificate (testing only; logged at start). */
  insecureSkipVerify?: boolean;
}

export interface SecurityConfig {
  /** The file it came from (for logs and `cluster.status`); undefined when none was found. */
  source?: string;
  /** `[jwt.signing]`: uploads and deletes on volume servers need a token for their fid. */
  jwtSigning?: JwtSigning;
  /** `[jwt.signing.read]`: reads need one too. */
  jwtSigningRead?: JwtSigning;
  /** weed-ts: `[jwt.admin] key`: administrative operations need a token signed with it. */
  jwtAdmin?: { key: string };
  /**
   * weed-ts: `[guard] admin_commonNames`: client-certificate common names (gRPC mutual TLS, or
   * HTTPS with a `ca`) that hold the admin credential, as an admin token does.
   */
  adminCommonNames?: readonly string[];
  grpc?: GrpcTlsConfig;
  httpsMaster?: HttpsServerConfig;
  httpsVolume?: HttpsServerConfig;
  httpsClient?: HttpsClientConfig;
  /** `[guard] white_list` plus `-whiteList`: IPs and CIDRs allowed to write, delete and administer. */
  whiteList: readonly string[];
  /**
   * weed-ts: `-cors.allowedOrigins`: origins a browser may POST/PUT/DELETE from (exact match, or
   * `*`); absent or empty = cross-origin reads only. Not a protection of its own (a browser rule).
   */
  corsAllowedOrigins?: readonly string[];
}

/** An open cluster: no file, no checks. */
export function openSecurity(): SecurityConfig {
  return { whiteList: [] };
}

/** True when any protection is on (the master logs once at start when none is). */
export function securityEnabled(s: SecurityConfig): boolean {
  return (
    s.jwtSigning !== undefined ||
    s.jwtSigningRead !== undefined ||
    s.jwtAdmin !== undefined ||
    (s.adminCommonNames?.length ?? 0) > 0 ||
    s.grpc !== undefined ||
    s.httpsMaster !== undefined ||
    s.httpsVolume !== undefined ||
    s.whiteList.length > 0
  );
}
