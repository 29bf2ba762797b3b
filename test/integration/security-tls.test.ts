// Mutual TLS on every gRPC port with real processes: three masters and a volume server started
// with -security naming a security.toml whose [grpc] sections hold certificates made by openssl
// for this run. The cluster elects, takes writes over TLS heartbeats; a master holding another
// CA's certificate cannot join, a volume server without a certificate (or with another CA's)
// cannot heartbeat, and a stranger's gRPC calls are refused.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { FormData, request } from "undici";
import { Seaweed } from "../../src/gen/master_pb.js";
import { createClient, GrpcCallError } from "../../src/grpc/adapter.js";
import { channelCredentialsFor, loadGrpcTls } from "../../src/grpc/tls.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { grpcConfigOf, grpcSecurityToml, makeClusterCerts, type ClusterCerts } from "../unit/grpc/tls-certs.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

/**
 * How long a refused newcomer is watched: several of its reconnect attempts (heartbeats retry
 * within a second or two, a joining master probes its peers for longer) fit in it.
 */
const refusedWatchMs = 6_000;
const POLL_MS = 200;

let tmp: TempDir;
let certs: ClusterCerts;
let secured: string;
/** The cluster's names, but a master certificate of another CA (and that CA as its trust). */
let otherCa: string;
const masterPorts: number[] = [];
const masters: WeedProcess[] = [];
const others: WeedProcess[] = [];
let peers: string;

function startMaster(port: number, security: string, peerList = peers): WeedProcess {
  return new WeedProcess([
    "master",
    `-mdir=${tmp.dir}/m${port}`,
    "-ip=127.0.0.1",
    `-port=${port}`,
    `-peers=${peerList}`,
    `-security=${security}`,
    "-logLevel=warn",
  ]);
}

function startVolume(port: number, security: string | null): WeedProcess {
  return new WeedProcess([
    "volume",
    `-dir=${tmp.dir}/v${port}`,
    "-ip=127.0.0.1",
    `-port=${port}`,
    `-mserver=${peers}`,
    "-max=8",
    ...(security === null ? [] : [`-security=${security}`]),
    "-logLevel=warn",
  ]);
}

interface RaftStatus {
  role: string;
  leader: string | null;
  members: { id: string; suffrage: string }[];
}

function votersOf(s: RaftStatus | undefined): string[] {
  return (s?.members ?? [])
    .filter((m) => m.suffrage === "voter")
    .map((m) => m.id)
    .sort();
}

async function raftOf(port: number): Promise<RaftStatus | undefined> {
  const r = await getJson(`http://127.0.0.1:${port}/cluster/raft`, { headersTimeout: 2000, bodyTimeout: 2000 }).catch(
    () => undefined,
  );
  return r?.status === 200 ? (r.json as RaftStatus) : undefined;
}

/** The leader's port once every master names the same leader. */
async function leaderPort(): Promise<number> {
  return eventually(
    async () => {
      const all = await Promise.all(masterPorts.map(raftOf));
      const named = new Set(all.map((s) => s?.leader ?? ""));
      const leader = [...named][0] ?? "";
      if (named.size !== 1 || leader === "") throw new Error(`leaders named: ${[...named].join(",")}`);
      return Number(leader.split(":")[1]);
    },
    { ...PROCESS_WAIT, what: "one leader agreed by the three masters" },
  );
}

async function registered(masterPort: number): Promise<string> {
  return JSON.stringify((await getJson(`http://127.0.0.1:${masterPort}/dir/status`)).json);
}

async function submit(masterPort: number, content: Buffer): Promise<{ status: number; json: any }> {
  const form = new FormData();
  form.append("file", new Blob([content]), "blob.bin");
  const r = await request(`http://127.0.0.1:${masterPort}/submit`, { method: "POST", body: form });
  return { status: r.statusCode, json: await r.body.json() };
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-tls-");
  certs = makeClusterCerts(tmp.dir);
  secured = join(tmp.dir, "security.toml");
  // The admin credential is a certificate name here (no [jwt.admin] key): the masters' own
  // (their AllocateVolume calls grow volumes) and the operators' client certificate.
  writeFileSync(secured, grpcSecurityToml(grpcConfigOf(certs)) + '\n[guard]\nadmin_commonNames = "master1,client1"\n');
  otherCa = join(tmp.dir, "other-ca-security.toml");
  writeFileSync(
    otherCa,
    grpcSecurityToml({
      ca: certs.otherCa.cert,
      master: { ...certs.otherMaster, allowedCommonNames: [] },
      volume: { ...certs.otherMaster, allowedCommonNames: [] },
    }),
  );
  for (let i = 0; i < 3; i++) masterPorts.push(await freePortPair());
  peers = masterPorts.map((p) => `127.0.0.1:${p}`).join(",");
  for (const p of masterPorts) masters.push(startMaster(p, secured));
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://127.0.0.1:${masterPorts[i]}/healthz`, masters[i]);
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const p of [...masters, ...others]) console.error(`weed-ts ${p.args.join(" ")}\n${p.logs().slice(-3000)}`);
  for (const p of others.splice(0)) await p.kill9();
});

afterAll(async () => {
  for (const p of masters) await p.stop();
  await tmp?.remove();
});

describe("mutual TLS on the gRPC ports", () => {
  it("three masters elect over TLS and take writes through a volume server heartbeating over TLS", async () => {
    const leader = await leaderPort();
    const vport = await freePortPair();
    const volume = startVolume(vport, secured);
    others.push(volume);
    await waitFor(async () => (await registered(leader)).includes(`127.0.0.1:${vport}`), {
      ...PROCESS_WAIT,
      what: "the secured volume server registered",
    });
    const content = randomBytes(1000);
    let r = await submit(masterPorts[(masterPorts.indexOf(leader) + 1) % 3]!, content);
    for (let attempt = 1; attempt < 10 && r.status === 503; attempt++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await submit(leader, content);
    }
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const back = await request(`http://${r.json.fileUrl as string}`);
    expect(Buffer.from(await back.body.arrayBuffer()).equals(content)).toBe(true);
    expect(masters.every((m) => !m.exited)).toBe(true);
  });

  it("a volume server without a certificate, or with another CA's, cannot heartbeat", async () => {
    const leader = await leaderPort();
    const plain = await freePortPair();
    const foreign = await freePortPair();
    const good = await freePortPair();
    others.push(startVolume(plain, null), startVolume(foreign, otherCa), startVolume(good, secured));
    await waitHttpOk(`http://127.0.0.1:${plain}/healthz`, others[0]);
    await waitHttpOk(`http://127.0.0.1:${foreign}/healthz`, others[1]);
    // The secured one shows the masters answer heartbeats meanwhile.
    await waitFor(async () => (await registered(leader)).includes(`127.0.0.1:${good}`), {
      ...PROCESS_WAIT,
      what: "the secured volume server registered",
    });
    const until = performance.now() + refusedWatchMs;
    while (performance.now() < until) {
      const topo = await Promise.all(masterPorts.map(registered));
      for (const t of topo) {
        expect(t).not.toContain(`127.0.0.1:${plain}`);
        expect(t).not.toContain(`127.0.0.1:${foreign}`);
      }
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  });

  it("a master with another CA's certificate cannot join: not a member, never hears a leader", async () => {
    const leader = await leaderPort();
    const before = votersOf(await raftOf(leader));
    expect(before).toEqual(masterPorts.map((p) => `127.0.0.1:${p}`).sort());
    const port = await freePortPair();
    const rogue = startMaster(port, otherCa, `127.0.0.1:${leader}`);
    others.push(rogue);
    const until = performance.now() + refusedWatchMs;
    while (performance.now() < until) {
      // Its join request travels over HTTP; the leader probes its gRPC port's certificate first
      // (checkPeerCertificate) and refuses it, so it is not even listed as a learner.
      for (const p of masterPorts) {
        const s = await raftOf(p);
        expect(votersOf(s)).toEqual(before);
        if (s !== undefined) expect(s.members).toHaveLength(3);
      }
      const own = rogue.exited ? undefined : await raftOf(port);
      expect(own?.leader ?? null).toBeNull();
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  });

  it("gRPC: refused without TLS, PERMISSION_DENIED for an unlisted CN, answered with [grpc.client]", async () => {
    const leader = await leaderPort();
    const address = `127.0.0.1:${leader + 10_000}`;
    const call = async (creds: grpc.ChannelCredentials): Promise<grpc.status | "ok"> => {
      const c = createClient(Seaweed, address, {}, creds);
      try {
        await c.raftListClusterServers({}, { timeoutMs: 5_000 });
        return "ok";
      } catch (err) {
        if (err instanceof GrpcCallError) return err.code;
        throw err;
      } finally {
        c.close();
      }
    };
    const material = loadGrpcTls(grpcConfigOf(certs));
    expect(await call(grpc.credentials.createInsecure())).toBe(grpc.status.UNAVAILABLE);
    expect(await call(channelCredentialsFor(material, "client"))).toBe("ok");
    const intruder = loadGrpcTls({ ...grpcConfigOf(certs), client: certs.intruder });
    expect(await call(channelCredentialsFor(intruder, "client"))).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("admin methods need a certificate named in [guard] admin_commonNames: volume1 refused, client1 not", async () => {
    const leader = await leaderPort();
    const address = `127.0.0.1:${leader + 10_000}`;
    const before = await raftOf(leader);
    const remove = async (who: "volume" | "client"): Promise<grpc.status | "ok"> => {
      const material = loadGrpcTls(grpcConfigOf(certs));
      const creds = channelCredentialsFor(material, who);
      const c = createClient(Seaweed, address, {}, creds);
      try {
        // Not a member: an admitted caller gets an error about the id, never about credentials.
        await c.raftRemoveServer({ id: "127.0.0.1:1", force: false }, { timeoutMs: 10_000 });
        return "ok";
      } catch (err) {
        if (err instanceof GrpcCallError) return err.code;
        throw err;
      } finally {
        c.close();
      }
    };
    expect(await remove("volume")).toBe(grpc.status.UNAUTHENTICATED);
    const admitted = await remove("client");
    expect(admitted).not.toBe(grpc.status.UNAUTHENTICATED);
    expect(admitted).not.toBe(grpc.status.PERMISSION_DENIED);
    expect(votersOf(await raftOf(leader))).toEqual(votersOf(before));
  });
});
