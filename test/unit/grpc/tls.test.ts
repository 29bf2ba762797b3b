// Mutual TLS on a real in-process gRPC server (src/grpc/tls.ts): who gets in and who does not,
// with certificates made by openssl for this run.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import type { SecurityConfig } from "../../../src/common/security/config.js";
import { Seaweed } from "../../../src/gen/master_pb.js";
import { addService, bindServer, createClient, GrpcCallError, type ServiceImpl } from "../../../src/grpc/adapter.js";
import {
  checkPeerCertificate,
  installProcessGrpcTls,
  loadGrpcTls,
  newGrpcServer,
  processChannelCredentials,
  processGrpcIdentity,
  resetProcessGrpcTls,
} from "../../../src/grpc/tls.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { grpcConfigOf, makeClusterCerts, type CertFiles, type ClusterCerts } from "./tls-certs.js";

/** A refused call ends well before this; it only bounds a hang. */
const callTimeoutMs = 5_000;

let tmp: TempDir;
let certs: ClusterCerts;
beforeAll(async () => {
  tmp = await tempDir("weed-tls-unit-");
  certs = makeClusterCerts(tmp.dir);
});
afterAll(async () => {
  await tmp.remove();
});

const servers: grpc.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.forceShutdown();
  resetProcessGrpcTls();
});

/** Answers LookupVolume with the volume id echoed as an error string; the other methods are never called. */
function seaweedImpl(): ServiceImpl<typeof Seaweed> {
  const lookupVolume = async () => ({ volumeIdLocations: [{ volumeOrFileId: "7", error: "echo" }] });
  return new Proxy({} as ServiceImpl<typeof Seaweed>, {
    get: (_t, name) => (name === "lookupVolume" ? lookupVolume : () => undefined),
  });
}

const RAW_PATH = "/test.Raw/Ping";
/** A service added without the adapter (as the Raft transport's is): the interceptor covers it too. */
function addRawService(server: grpc.Server): void {
  const def: grpc.MethodDefinition<Buffer, Buffer> = {
    path: RAW_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: (b) => b,
    responseDeserialize: (b) => b,
  };
  server.addService({ ping: def } as grpc.ServiceDefinition, {
    ping: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
}

async function startServer(security: SecurityConfig, role: "master" | "volume" = "master"): Promise<string> {
  const server = newGrpcServer({}, security, role);
  servers.push(server);
  addService(server, Seaweed, seaweedImpl());
  addRawService(server);
  const port = await bindServer(server, "127.0.0.1", 0);
  return `127.0.0.1:${port}`;
}

function securityOf(allowed?: string[]): SecurityConfig {
  return { whiteList: [], grpc: grpcConfigOf(certs, allowed) };
}

function tlsAs(id: CertFiles | null, ca = certs.ca.cert): grpc.ChannelCredentials {
  const verify = { checkServerIdentity: () => undefined };
  if (id === null) return grpc.credentials.createSsl(readFileSync(ca), null, null, verify);
  return grpc.credentials.createSsl(readFileSync(ca), readFileSync(id.key), readFileSync(id.cert), verify);
}

async function lookup(address: string, creds: grpc.ChannelCredentials): Promise<string> {
  const c = createClient(Seaweed, address, {}, creds);
  try {
    const res = await c.lookupVolume({ volumeOrFileIds: ["7"] }, { timeoutMs: callTimeoutMs });
    return res.volumeIdLocations[0]?.error ?? "";
  } finally {
    c.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<grpc.status> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrpcCallError);
  const e = err as GrpcCallError;
  // A refused handshake is a call that never left: callers may retry it elsewhere safely.
  if (e.code === grpc.status.UNAVAILABLE) expect(e.neverConnected).toBe(true);
  return e.code;
}

function rawPing(address: string, creds: grpc.ChannelCredentials): Promise<Buffer> {
  const client = new grpc.Client(address, creds);
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      RAW_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from("hi"),
      new grpc.Metadata(),
      { deadline: Date.now() + callTimeoutMs },
      (err, res) => (err ? reject(err) : resolve(res as Buffer)),
    );
  }).finally(() => client.close());
}

describe("gRPC mutual TLS", () => {
  it("admits a client with a certificate from the cluster's CA and an allowed CN", async () => {
    const address = await startServer(securityOf());
    expect(await lookup(address, tlsAs(certs.client))).toBe("echo");
    expect(await lookup(address, tlsAs(certs.volume))).toBe("echo");
  });

  it("refuses a client without TLS, without a certificate, and with one from another CA", async () => {
    const address = await startServer(securityOf());
    expect(await refusal(lookup(address, grpc.credentials.createInsecure()))).toBe(grpc.status.UNAVAILABLE);
    expect(await refusal(lookup(address, tlsAs(null)))).toBe(grpc.status.UNAVAILABLE);
    // CN master1 (allowed), but signed by a CA the server does not trust.
    expect(await refusal(lookup(address, tlsAs(certs.otherMaster)))).toBe(grpc.status.UNAVAILABLE);
  });

  it("a client refuses a server whose certificate another CA signed", async () => {
    const address = await startServer(securityOf());
    expect(await refusal(lookup(address, tlsAs(certs.client, certs.otherCa.cert)))).toBe(grpc.status.UNAVAILABLE);
  });

  it("refuses a CA-signed certificate whose CN is not allowed with PERMISSION_DENIED, on every service", async () => {
    const address = await startServer(securityOf());
    expect(await refusal(lookup(address, tlsAs(certs.intruder)))).toBe(grpc.status.PERMISSION_DENIED);
    const raw = await rawPing(address, tlsAs(certs.intruder)).then(
      () => null,
      (e: grpc.ServiceError) => e.code,
    );
    expect(raw).toBe(grpc.status.PERMISSION_DENIED);
    expect((await rawPing(address, tlsAs(certs.master))).toString()).toBe("hi");
  });

  it("a bidi stream (the heartbeat's kind) from an unlisted CN ends with PERMISSION_DENIED", async () => {
    const address = await startServer(securityOf());
    const c = createClient(Seaweed, address, {}, tlsAs(certs.intruder));
    try {
      const stream = c.sendHeartbeat();
      const code = await new Promise<grpc.status>((resolve) => {
        stream.on("error", (e: grpc.ServiceError) => resolve(e.code));
        stream.on("data", () => resolve(grpc.status.OK));
      });
      expect(code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      c.close();
    }
  });

  it("with allowed_commonNames empty admits any certificate the CA signed", async () => {
    const address = await startServer(securityOf([]), "volume");
    expect(await lookup(address, tlsAs(certs.intruder))).toBe("echo");
  });

  it("the first TLS server sets the process's client identity: its role's certificate", async () => {
    expect(processGrpcIdentity()).toBeNull();
    // Only [grpc.master] admits nobody but master1: a client presenting anything else is refused.
    const address = await startServer(securityOf(["master1"]));
    expect(processGrpcIdentity()).toBe("master");
    expect(await lookup(address, processChannelCredentials())).toBe("echo");
    // createClient's default is the process's credentials.
    const c = createClient(Seaweed, address);
    try {
      const res = await c.lookupVolume({ volumeOrFileIds: ["7"] }, { timeoutMs: callTimeoutMs });
      expect(res.volumeIdLocations[0]?.error).toBe("echo");
    } finally {
      c.close();
    }
    resetProcessGrpcTls();
    expect(await refusal(lookup(address, processChannelCredentials()))).toBe(grpc.status.UNAVAILABLE);
  });

  it("a process running a volume server and a master dials as the master; an explicit install outranks both", () => {
    servers.push(newGrpcServer({}, securityOf(), "volume"));
    expect(processGrpcIdentity()).toBe("volume");
    servers.push(newGrpcServer({}, securityOf(), "master"));
    expect(processGrpcIdentity()).toBe("master");
    servers.push(newGrpcServer({}, securityOf(), "volume"));
    expect(processGrpcIdentity()).toBe("master");
    installProcessGrpcTls(grpcConfigOf(certs), "client");
    servers.push(newGrpcServer({}, securityOf(), "master"));
    expect(processGrpcIdentity()).toBe("client");
  });

  it("without [grpc] a server and its clients stay insecure, side by side with a TLS server", async () => {
    const tlsAddress = await startServer(securityOf());
    resetProcessGrpcTls();
    const open = await startServer({ whiteList: [] });
    expect(processGrpcIdentity()).toBeNull();
    expect(await lookup(open, grpc.credentials.createInsecure())).toBe("echo");
    expect(await lookup(tlsAddress, tlsAs(certs.client))).toBe("echo");
  });

  it("checkPeerCertificate: member (our CA), stranger (another CA, no TLS), unreachable (nobody)", async () => {
    const ours = await startServer(securityOf());
    const other: SecurityConfig = {
      whiteList: [],
      grpc: { ca: certs.otherCa.cert, master: { ...certs.otherMaster, allowedCommonNames: [] } },
    };
    const foreign = await startServer(other);
    resetProcessGrpcTls();
    const open = await startServer({ whiteList: [] });
    const dead = newGrpcServer({}, undefined, "master");
    const deadPort = await bindServer(dead, "127.0.0.1", 0);
    dead.forceShutdown();
    const nobody = `127.0.0.1:${deadPort}`;
    // An open process checks nothing.
    expect(await checkPeerCertificate(foreign, callTimeoutMs)).toBe("member");
    installProcessGrpcTls(grpcConfigOf(certs), "master");
    expect(await checkPeerCertificate(ours, callTimeoutMs)).toBe("member");
    expect(await checkPeerCertificate(foreign, callTimeoutMs)).toBe("stranger");
    expect(await checkPeerCertificate(open, callTimeoutMs)).toBe("stranger");
    expect(await checkPeerCertificate(nobody, callTimeoutMs)).toBe("unreachable");
  });

  it("a certificate file that cannot be read stops the start with BAD_PARAM", () => {
    const g = { ...grpcConfigOf(certs), ca: `${tmp.dir}/missing.crt` };
    let err: unknown;
    try {
      loadGrpcTls(g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.BAD_PARAM);
  });
});
