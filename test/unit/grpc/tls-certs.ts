// Test certificates made with openssl: a CA, and leaf certificates it signs with a common name
// and SANs for the loopback addresses the tests use (the client side does not check host names,
// as SeaweedFS; the SANs make the certificates right for a client that does).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GrpcTlsConfig } from "../../../src/common/security/config.js";

export interface CertFiles {
  cert: string;
  key: string;
}

/** A day: every test run makes fresh certificates, so validity only needs to cover the run. */
const certValidityDays = "1";

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed CA (P-256) named `name`, its files in `dir`. */
export function makeCa(dir: string, name: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", key, "-out", cert, "-subj", `/CN=${name}`, "-days", certValidityDays],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  return { cert, key };
}

/** A leaf certificate for `cn` signed by `ca`, usable as server and client, SAN 127.0.0.0/29 and localhost. */
export function makeCert(dir: string, ca: CertFiles, cn: string, file = cn): CertFiles {
  const cert = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  const csr = join(dir, `${file}.csr`);
  const ext = join(dir, `${file}.ext`);
  const ips = Array.from({ length: 8 }, (_, i) => `IP:127.0.0.${i}`).join(",");
  writeFileSync(
    ext,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=DNS:localhost,${ips}`,
    ].join("\n") + "\n",
  );
  openssl([
    ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", key, "-out", csr, "-subj", `/CN=${cn}`],
  ]);
  openssl([
    ...["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial"],
    ...["-out", cert, "-days", certValidityDays, "-extfile", ext],
  ]);
  return { cert, key };
}

/** A cluster's certificates: CA, master, volume, client (CNs master1, volume1, client1), and a stranger's CA. */
export interface ClusterCerts {
  ca: CertFiles;
  master: CertFiles;
  volume: CertFiles;
  client: CertFiles;
  /** Signed by the cluster's CA, but with a CN no server admits. */
  intruder: CertFiles;
  otherCa: CertFiles;
  /** CN master1 (a name the cluster admits), signed by the other CA. */
  otherMaster: CertFiles;
}

export function makeClusterCerts(dir: string): ClusterCerts {
  const ca = makeCa(dir, "ca");
  const otherCa = makeCa(dir, "other-ca");
  return {
    ca,
    master: makeCert(dir, ca, "master1"),
    volume: makeCert(dir, ca, "volume1"),
    client: makeCert(dir, ca, "client1"),
    intruder: makeCert(dir, ca, "intruder"),
    otherCa,
    otherMaster: makeCert(dir, otherCa, "master1", "other-master1"),
  };
}

/** The [grpc] sections of a cluster where each server admits the cluster's three names. */
export function grpcConfigOf(c: ClusterCerts, allowed = ["master1", "volume1", "client1"]): GrpcTlsConfig {
  return {
    ca: c.ca.cert,
    master: { ...c.master, allowedCommonNames: allowed },
    volume: { ...c.volume, allowedCommonNames: allowed },
    client: c.client,
  };
}

/** The same as a security.toml (SeaweedFS's key names), for real processes started with -security. */
export function grpcSecurityToml(g: GrpcTlsConfig): string {
  const section = (name: string, f: { cert: string; key: string; allowedCommonNames?: readonly string[] }) =>
    [
      `[grpc.${name}]`,
      `cert = ${JSON.stringify(f.cert)}`,
      `key = ${JSON.stringify(f.key)}`,
      ...(f.allowedCommonNames === undefined ? [] : [`allowed_commonNames = "${f.allowedCommonNames.join(",")}"`]),
      "",
    ].join("\n");
  return [
    "[grpc]",
    `ca = ${JSON.stringify(g.ca)}`,
    "",
    ...(g.master === undefined ? [] : [section("master", g.master)]),
    ...(g.volume === undefined ? [] : [section("volume", g.volume)]),
    ...(g.client === undefined ? [] : [section("client", g.client)]),
  ].join("\n");
}
