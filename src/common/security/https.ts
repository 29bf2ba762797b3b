// HTTPS on the HTTP ports, from security.toml's `[https.master]`, `[https.volume]` and
// `[https.client]` (SeaweedFS: weed/command/master.go and volume.go's startClusterHttpService,
// weed/security/tls.go's LoadHTTPClientFromFile).
//
// A server with `[https.<role>]` cert and key serves TLS; with `ca` as well it requires a client
// certificate signed by that CA (mutual TLS), as SeaweedFS's LoadClientTLSHTTP.
//
// Clients are process-wide, as SeaweedFS's one HTTP client per process and as ../grpc/tls.ts's
// identity: with `[https.client] enabled`, every call this process makes to another master or
// volume server (forwarding, uploads, replication, joins, the shell, the benchmark) dials
// https:// with the client certificate and the CA, and every link and redirect it writes says
// https://. So a cluster is HTTPS everywhere or nowhere: load.ts refuses a file that mixes them.
// As for gRPC, the chain is verified and the host name is not: peers reach each other at the
// IP:port they registered with, while certificates are issued for names.
import { readFileSync } from "node:fs";
import { createServer as createPlainServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import { createServer as createTlsServer, type ServerOptions as HttpsServerOptions } from "node:https";
import type { Socket } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import { Agent, setGlobalDispatcher } from "undici";
import { ErrorCode, WeedError } from "../errors.js";
import type { HttpsClientConfig, HttpsServerConfig } from "./config.js";

/** The TLS options a client socket of this process dials with (undici's `connect`). */
export type HttpClientTls = Pick<
  ConnectionOptions,
  "ca" | "cert" | "key" | "rejectUnauthorized" | "checkServerIdentity"
>;

let clientTls: HttpClientTls | undefined;

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new WeedError(ErrorCode.BAD_PARAM, `security.toml ${what}: cannot read ${path}`, { cause: err });
  }
}

const acceptAnyHostName = (): undefined => undefined;

/**
 * Makes every HTTP call of this process HTTPS with `cfg`'s certificate and CA, also undici's
 * `request()` without a dispatcher. Undefined or not enabled: nothing changes (an open cluster's
 * process stays plain HTTP; a server and a master in one process install the same file twice).
 */
export function installHttpsClient(cfg: HttpsClientConfig | undefined): void {
  if (cfg === undefined || !cfg.enabled) return;
  const tls: HttpClientTls = {
    rejectUnauthorized: cfg.insecureSkipVerify !== true,
    checkServerIdentity: acceptAnyHostName,
    ...(cfg.ca === undefined ? {} : { ca: readPem(cfg.ca, "[https.client] ca") }),
    ...(cfg.cert === undefined ? {} : { cert: readPem(cfg.cert, "[https.client] cert") }),
    ...(cfg.key === undefined ? {} : { key: readPem(cfg.key, "[https.client] key") }),
  };
  clientTls = tls;
  setGlobalDispatcher(new Agent({ connect: tls }));
}

/** "https" when this process's calls are HTTPS, else "http". */
export function httpScheme(): "http" | "https" {
  return clientTls === undefined ? "http" : "https";
}

/** `http://host:port` or `https://host:port` for a peer's "host:port". */
export function httpOrigin(hostPort: string): string {
  return `${httpScheme()}://${hostPort}`;
}

/** undici's `connect` option for this process's calls: `extra` (a timeout), with TLS when installed. */
export function httpConnectOptions<T extends object>(extra: T): T & HttpClientTls {
  return clientTls === undefined ? extra : { ...extra, ...clientTls };
}

/** The TLS part of an HTTPS server's options; with `ca`, a client certificate is required. */
export function httpsServerOptions(cfg: HttpsServerConfig, section: string): HttpsServerOptions {
  const ca = cfg.ca === undefined ? undefined : readPem(cfg.ca, `[${section}] ca`);
  return {
    cert: readPem(cfg.cert, `[${section}] cert`),
    key: readPem(cfg.key, `[${section}] key`),
    ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
  };
}

/**
 * An HTTP server, or with `https` an HTTPS one (node:https's Server is node:http's with TLS under
 * it: the same events, timeouts and request objects, so callers keep one type).
 */
export function createWebServer(
  options: ServerOptions,
  listener: RequestListener,
  https?: { config: HttpsServerConfig; section: string },
): Server {
  if (https === undefined) return createPlainServer(options, listener);
  return createTlsServer({ ...options, ...httpsServerOptions(https.config, https.section) }, listener) as Server;
}

/**
 * The common name of the client certificate an HTTPS request came with, when the handshake
 * verified it against the server's `ca`; undefined over plain HTTP or without a certificate.
 */
export function tlsPeerCommonName(socket: Socket): string | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true || tls.getPeerCertificate === undefined) return undefined;
  const cn = tls.getPeerCertificate().subject?.CN;
  // An array when the subject repeats the attribute: joined, so it matches no single listed name.
  return Array.isArray(cn) ? cn.join(",") : cn;
}
