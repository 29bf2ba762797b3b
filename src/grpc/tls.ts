// Mutual TLS on every gRPC port, from security.toml's `[grpc]` sections (SeaweedFS's
// weed/security/tls.go): a server presents its role's certificate ([grpc.master] or
// [grpc.volume]) and requires a client certificate signed by `[grpc] ca`; a client checks the
// server's certificate against the same CA and presents its own.
//
// As SeaweedFS's advancedtls CertVerification, the chain is verified but not the host name:
// cluster certificates are issued for names (volume01.example) while peers dial each other by
// the IP:port they registered with, so a host-name check would refuse every SeaweedFS-style
// certificate. Whoever holds a key signed by the cluster's CA is a member; `allowed_commonNames`
// narrows that per server role.
//
// Servers get their credentials explicitly (newGrpcServer, from the SecurityConfig their
// constructor received, with the role they serve). Clients use one process-wide identity, set
// when the process makes a TLS gRPC server (or by installProcessGrpcTls, for the shell): SeaweedFS
// also reads one security.toml per process, and the dozen call sites that dial (leader
// forwarding, heartbeats, the Raft transport, repair, copies) then need no credentials threaded
// through them. Which certificate a client presents is SeaweedFS's choice too: a master dials with
// [grpc.master]'s, a volume server with [grpc.volume]'s, the shell with [grpc.client]'s; a
// `weed-ts server` process dials with the master's (a master's server outranks a volume server's,
// whichever is made first; an explicit install outranks both). A process that never configures
// [grpc] (every in-process test but the TLS ones) stays insecure, and a test can still pass
// explicit credentials to createClient or reset the process identity.
import { readFileSync } from "node:fs";
import { connect as tlsConnect, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError } from "../common/errors.js";
import type { CertKeyFiles, GrpcTlsConfig, SecurityConfig } from "../common/security/config.js";

/** A gRPC server's role: which `[grpc.<role>]` section it serves with. */
export type GrpcServerRole = "master" | "volume";
/** Whose certificate a process presents when it dials: a server role's, or `[grpc.client]`. */
export type GrpcClientIdentity = GrpcServerRole | "client";

interface Identity {
  cert: Buffer;
  key: Buffer;
}

/** The PEM files of a `[grpc]` configuration, read once. */
export interface GrpcTlsMaterial {
  ca: Buffer;
  master?: Identity & { allowedCommonNames: readonly string[] };
  volume?: Identity & { allowedCommonNames: readonly string[] };
  client?: Identity;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new WeedError(ErrorCode.BAD_PARAM, `security.toml ${what}: cannot read ${path}`, { cause: err });
  }
}

function identityOf(files: CertKeyFiles, section: string): Identity {
  return { cert: readPem(files.cert, `${section} cert`), key: readPem(files.key, `${section} key`) };
}

/** Parsed configs already read: a process starting a master and a volume server reads each file once. */
const materialCache = new WeakMap<GrpcTlsConfig, GrpcTlsMaterial>();

/** Reads the CA and every configured certificate and key (a missing file is a BAD_PARAM error). */
export function loadGrpcTls(cfg: GrpcTlsConfig): GrpcTlsMaterial {
  const cached = materialCache.get(cfg);
  if (cached !== undefined) return cached;
  const m: GrpcTlsMaterial = { ca: readPem(cfg.ca, "[grpc] ca") };
  if (cfg.master !== undefined)
    m.master = { ...identityOf(cfg.master, "[grpc.master]"), allowedCommonNames: cfg.master.allowedCommonNames };
  if (cfg.volume !== undefined)
    m.volume = { ...identityOf(cfg.volume, "[grpc.volume]"), allowedCommonNames: cfg.volume.allowedCommonNames };
  if (cfg.client !== undefined) m.client = identityOf(cfg.client, "[grpc.client]");
  materialCache.set(cfg, m);
  return m;
}

/**
 * Chain checked against the CA, host name not (see the top of this file). grpc-js passes this
 * to tls.connect; returning undefined accepts the name.
 */
function acceptAnyHostName(): undefined {
  return undefined;
}

/** Credentials to dial with as `who`; insecure when that identity has no certificate (as SeaweedFS). */
export function channelCredentialsFor(m: GrpcTlsMaterial, who: GrpcClientIdentity): grpc.ChannelCredentials {
  const id = m[who];
  if (id === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(m.ca, id.key, id.cert, { checkServerIdentity: acceptAnyHostName });
}

/**
 * What a server of `role` serves with: TLS requiring a client certificate signed by the CA, or
 * insecure when that role has no section (SeaweedFS serves without TLS then too).
 */
export function serverCredentialsFor(m: GrpcTlsMaterial, role: GrpcServerRole): grpc.ServerCredentials {
  const id = m[role];
  if (id === undefined) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(m.ca, [{ cert_chain: id.cert, private_key: id.key }], true);
}

/** grpc-js's AuthContext (not exported by its index): what the TLS handshake learned of the peer. */
export interface PeerAuthContext {
  sslPeerCertificate?: PeerCertificate;
}

/** The common name of the client certificate a call came with, or undefined without one. */
export function peerCommonName(authContext: PeerAuthContext | null | undefined): string | undefined {
  const cn = authContext?.sslPeerCertificate?.subject?.CN;
  // Node gives a string, or an array when the subject repeats the attribute: all must be allowed.
  return Array.isArray(cn) ? cn.join(",") : cn;
}

/**
 * True when a call from a peer with this auth context may proceed under `allowed`
 * (`allowed_commonNames`; empty admits any certificate the handshake accepted, as SeaweedFS).
 */
export function commonNameAllowed(allowed: readonly string[], authContext: PeerAuthContext | null): boolean {
  if (allowed.length === 0) return true;
  const cn = peerCommonName(authContext);
  return cn !== undefined && allowed.includes(cn);
}

/**
 * A server interceptor refusing, with PERMISSION_DENIED before the handler sees anything, every
 * call whose client certificate's CN is not in `allowed`. It runs for every service on the
 * server, the Raft transport's included. SeaweedFS fails the handshake instead; a status names
 * the reason to the refused client, where a torn handshake reads as "unavailable".
 */
export function commonNameInterceptor(allowed: readonly string[]): grpc.ServerInterceptor {
  return (_method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const ctx = call.getAuthContext();
        if (commonNameAllowed(allowed, ctx)) {
          next(metadata);
          return;
        }
        const cn = peerCommonName(ctx) ?? "(none)";
        call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: `client certificate CN ${cn} not allowed` });
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/** bindServer's credentials for a server made by newGrpcServer (absent: insecure). */
const serverCredentials = new WeakMap<grpc.Server, grpc.ServerCredentials>();

export function serverCredentialsOf(server: grpc.Server): grpc.ServerCredentials {
  return serverCredentials.get(server) ?? grpc.ServerCredentials.createInsecure();
}

/**
 * grpc-js's channelz (on by default) counts and timestamps every message for an introspection
 * service nothing here serves: ~13% of a message round trip's CPU on this machine (issue 15).
 */
export const noChannelz: grpc.ChannelOptions = { "grpc.enable_channelz": 0 };

/**
 * A gRPC server for `role`: with `security.grpc`, bound (by bindServer) with mutual TLS and
 * refusing client names outside the role's allowed_commonNames; it also sets the process's client
 * identity (the role's certificate; see the top of this file). Without it, a plain
 * insecure server, as before security.toml.
 */
export function newGrpcServer(
  options: grpc.ServerOptions,
  security: SecurityConfig | undefined,
  role: GrpcServerRole,
): grpc.Server {
  const cfg = security?.grpc;
  const opts: grpc.ServerOptions = { ...options, ...noChannelz };
  if (cfg === undefined) return new grpc.Server(opts);
  const material = loadGrpcTls(cfg);
  if (processIdentity === null || processIdentity.rank < roleRank[role]) setIdentity(cfg, role, roleRank[role]);
  const allowed = material[role]?.allowedCommonNames ?? [];
  const interceptors = allowed.length === 0 ? [] : [commonNameInterceptor(allowed)];
  const server = new grpc.Server({ ...opts, interceptors: [...(opts.interceptors ?? []), ...interceptors] });
  serverCredentials.set(server, serverCredentialsFor(material, role));
  return server;
}

/**
 * Whose certificate wins when a process sets several: a process running a master and a volume
 * server presents the master's (as SeaweedFS's `weed server` master does); an explicit install wins.
 */
const roleRank: Record<GrpcServerRole, number> = { volume: 1, master: 2 };
const explicitRank = 3;

let processIdentity: {
  who: GrpcClientIdentity;
  rank: number;
  material: GrpcTlsMaterial;
  credentials: grpc.ChannelCredentials;
} | null = null;

function setIdentity(cfg: GrpcTlsConfig, who: GrpcClientIdentity, rank: number): void {
  const material = loadGrpcTls(cfg);
  processIdentity = { who, rank, material, credentials: channelCredentialsFor(material, who) };
}

/**
 * Sets what every client in this process dials with. The shell and other client-only commands
 * call it with "client" once at start; servers get it from newGrpcServer.
 */
export function installProcessGrpcTls(cfg: GrpcTlsConfig, who: GrpcClientIdentity): void {
  setIdentity(cfg, who, explicitRank);
}

/** Back to an insecure process (tests that run TLS and open clusters in one process). */
export function resetProcessGrpcTls(): void {
  processIdentity = null;
}

/** Whose certificate this process presents, or null when it dials without TLS. */
export function processGrpcIdentity(): GrpcClientIdentity | null {
  return processIdentity?.who ?? null;
}

/** What a client in this process dials with: the installed identity's TLS, else insecure. */
export function processChannelCredentials(): grpc.ChannelCredentials {
  return processIdentity?.credentials ?? grpc.credentials.createInsecure();
}

/** What a TLS handshake with a would-be peer's gRPC port showed. */
export type PeerCertificateCheck = "member" | "stranger" | "unreachable";

/**
 * A master's membership changes travel over HTTP; with [grpc] configured, the leader asks this
 * before adding a master: does its gRPC port present a certificate our CA signed? "stranger": it
 * answered with another certificate (another CA's, or none) and must not be added, or it would
 * sit in the membership as a learner that can never be reached. "unreachable": nothing answered
 * (not started yet: an operator may add a master before starting it). Without a process identity
 * (no [grpc]) every peer is a "member": an open cluster checks nothing.
 */
export function checkPeerCertificate(address: string, timeoutMs: number): Promise<PeerCertificateCheck> {
  const id = processIdentity;
  if (id === null) return Promise.resolve("member");
  const colon = address.lastIndexOf(":");
  const own = id.material[id.who];
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: address.slice(0, colon),
      port: Number(address.slice(colon + 1)),
      ca: id.material.ca,
      ...(own === undefined ? {} : { cert: own.cert, key: own.key }),
      ALPNProtocols: ["h2"],
      // Only the chain matters here, as for every gRPC call (see the top of this file).
      rejectUnauthorized: false,
      checkServerIdentity: acceptAnyHostName,
    });
    const done = (v: PeerCertificateCheck): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done("unreachable"), timeoutMs);
    socket.once("secureConnect", () => done(socket.authorized ? "member" : "stranger"));
    // Refused or reset before any handshake: nobody there; a torn handshake: not one of ours.
    socket.once("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNREFUSED" || err.code === "EHOSTUNREACH" ? "unreachable" : "stranger"),
    );
  });
}
