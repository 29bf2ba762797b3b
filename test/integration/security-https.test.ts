// HTTPS on every HTTP port with real processes: three masters and two volume servers started with
// -security naming a security.toml whose [https.master], [https.volume] (each with `ca`: a client
// certificate is required) and [https.client] sections hold certificates openssl made for this
// run. Everything the cluster does over HTTP runs over TLS: an assign at a follower is forwarded
// to the leader, /submit uploads to a volume server, a replicated write reaches the other
// replica, the shell reads the cluster; plain HTTP and a client without a certificate are refused.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, FormData, getGlobalDispatcher, request, setGlobalDispatcher, type Dispatcher } from "undici";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import { makeClusterCerts, type ClusterCerts } from "../unit/grpc/tls-certs.js";
import { BIN, freePortPair, PROCESS_WAIT, WeedProcess } from "./harness.js";

const REQUEST_MS = 10_000;

let tmp: TempDir;
let certs: ClusterCerts;
let securityFile: string;
const masterPorts: number[] = [];
const volumePorts: number[] = [];
const procs: WeedProcess[] = [];
let peers: string;
let before: Dispatcher | undefined;
/** The test's own client: the cluster's CA and the client certificate. */
let client: Agent;

function httpsToml(c: ClusterCerts): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    "[https.master]",
    `cert = ${q(c.master.cert)}`,
    `key = ${q(c.master.key)}`,
    `ca = ${q(c.ca.cert)}`,
    "[https.volume]",
    `cert = ${q(c.volume.cert)}`,
    `key = ${q(c.volume.key)}`,
    `ca = ${q(c.ca.cert)}`,
    "[https.client]",
    "enabled = true",
    `cert = ${q(c.client.cert)}`,
    `key = ${q(c.client.key)}`,
    `ca = ${q(c.ca.cert)}`,
    // The admin credential over HTTPS: the client certificate's name (the masters' calls to the
    // volume servers' gRPC, plain here, show the admin token instead).
    "[guard]",
    'admin_commonNames = "client1"',
    "[jwt.admin]",
    'key = "https-test-admin-key"',
    "",
  ].join("\n");
}

async function getJsonTls(url: string, init: { method?: "GET" | "POST"; body?: FormData } = {}) {
  const r = await request(url, {
    dispatcher: client,
    headersTimeout: REQUEST_MS,
    bodyTimeout: REQUEST_MS,
    ...init,
  });
  const text = await r.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.statusCode, json, text, headers: r.headers };
}

interface RaftStatus {
  role: string;
  leader: string | null;
  members: { id: string; suffrage: string }[];
}

async function raftOf(port: number): Promise<RaftStatus | undefined> {
  const r = await getJsonTls(`https://127.0.0.1:${port}/cluster/raft`).catch(() => undefined);
  return r?.status === 200 ? (r.json as RaftStatus) : undefined;
}

function shell(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    [BIN, "shell", `-master=127.0.0.1:${masterPorts[0]}`, `-security=${securityFile}`, ...args],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  tmp = await tempDir("weedts-https-");
  certs = makeClusterCerts(tmp.dir);
  securityFile = join(tmp.dir, "security.toml");
  writeFileSync(securityFile, httpsToml(certs));
  client = new Agent({
    connect: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.client.cert),
      key: readFileSync(certs.client.key),
      checkServerIdentity: () => undefined,
    },
  });
  // harness helpers that call request() without a dispatcher go through the same client.
  before = getGlobalDispatcher();
  setGlobalDispatcher(client);
  for (let i = 0; i < 3; i++) masterPorts.push(await freePortPair());
  for (let i = 0; i < 2; i++) volumePorts.push(await freePortPair());
  peers = masterPorts.map((p) => `127.0.0.1:${p}`).join(",");
  for (const port of masterPorts) {
    procs.push(
      new WeedProcess([
        "master",
        `-mdir=${tmp.dir}/m${port}`,
        "-ip=127.0.0.1",
        `-port=${port}`,
        `-peers=${peers}`,
        `-security=${securityFile}`,
        "-defaultReplication=001",
        "-logLevel=warn",
      ]),
    );
  }
  for (const port of volumePorts) {
    procs.push(
      new WeedProcess([
        "volume",
        `-dir=${tmp.dir}/v${port}`,
        "-ip=127.0.0.1",
        `-port=${port}`,
        `-mserver=${peers}`,
        "-max=8",
        `-security=${securityFile}`,
        "-logLevel=warn",
      ]),
    );
  }
  await eventually(
    async () => {
      const s = await raftOf(masterPorts[0]!);
      if (s?.leader === null || s?.leader === undefined) throw new Error("no leader yet");
      const topo = await getJsonTls(`https://${s.leader}/dir/status`);
      const nodes = JSON.stringify(topo.json).match(/"Url":/g)?.length ?? 0;
      if (nodes < 2) throw new Error(`${nodes} volume servers registered`);
    },
    { what: "a leader over HTTPS with both volume servers", ...PROCESS_WAIT, timeoutMs: 40_000 },
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (before !== undefined) setGlobalDispatcher(before);
  await client?.close();
  await tmp?.remove();
});

async function followerPort(): Promise<number> {
  for (const port of masterPorts) {
    const s = await raftOf(port);
    if (s !== undefined && s.role === "follower") return port;
  }
  throw new Error("no follower answered");
}

describe("HTTPS on every HTTP port ([https.master], [https.volume], [https.client])", () => {
  it("refuses plain HTTP and an HTTPS client without a certificate", async () => {
    const port = masterPorts[0]!;
    await expect(
      request(`http://127.0.0.1:${port}/cluster/status`, {
        dispatcher: new Agent(),
        headersTimeout: 3000,
        bodyTimeout: 3000,
      }),
    ).rejects.toThrow();
    const noCert = new Agent({ connect: { ca: readFileSync(certs.ca.cert), checkServerIdentity: () => undefined } });
    await expect(
      request(`https://127.0.0.1:${volumePorts[0]}/status`, { dispatcher: noCert, headersTimeout: 3000 }),
    ).rejects.toThrow();
    await noCert.close();
  });

  it("assign at a follower, replicated upload, reads from both replicas, /submit, all over TLS", async () => {
    const follower = await followerPort();
    const a = await getJsonTls(`https://127.0.0.1:${follower}/dir/assign?replication=001`);
    expect(a.status, a.text).toBe(200);
    const { fid, url } = a.json as { fid: string; url: string };
    const body = randomBytes(3000);
    const form = new FormData();
    form.set("file", new Blob([body]), "x.bin");
    const up = await getJsonTls(`https://${url}/${fid}`, { method: "POST", body: form });
    expect(up.status, up.text).toBe(201);
    // Both replicas hold it: the volume server sent it to the other one over HTTPS.
    for (const port of volumePorts) {
      const r = await request(`https://127.0.0.1:${port}/${fid}?readDeleted=false`, {
        dispatcher: client,
        headersTimeout: REQUEST_MS,
      });
      const got = Buffer.from(await r.body.arrayBuffer());
      expect(r.statusCode).toBe(200);
      expect(got.equals(body)).toBe(true);
    }
    const submitForm = new FormData();
    submitForm.set("file", new Blob([Buffer.from("hello over tls")]), "h.txt");
    const sub = await getJsonTls(`https://127.0.0.1:${follower}/submit`, { method: "POST", body: submitForm });
    expect(sub.status, sub.text).toBe(201);
    const read = await getJsonTls(`https://${(sub.json as { fileUrl: string }).fileUrl}`);
    expect(read.text).toBe("hello over tls");
  });

  it("an admin route admits a client certificate named in admin_commonNames, refuses another name", async () => {
    const follower = await followerPort();
    const url = `https://127.0.0.1:${follower}/vol/grow?count=1&replication=001`;
    const intruder = new Agent({
      connect: {
        ca: readFileSync(certs.ca.cert),
        cert: readFileSync(certs.intruder.cert),
        key: readFileSync(certs.intruder.key),
        checkServerIdentity: () => undefined,
      },
    });
    const refused = await request(url, { dispatcher: intruder, headersTimeout: REQUEST_MS });
    const refusal = await refused.body.text();
    await intruder.close();
    expect(refused.statusCode, refusal).toBe(401);
    expect(refusal).toContain("missing admin token (a client certificate named in [guard] admin_commonNames");
    // client1 is admitted at the follower and again at the leader (the follower's own
    // [https.client] certificate is client1 too).
    const grown = await getJsonTls(url);
    expect(grown.status, grown.text).toBe(200);
  });

  it("the status page links peers with https://, and the shell reads the cluster over HTTPS", async () => {
    const s = await raftOf(masterPorts[0]!);
    const page = await getJsonTls(`https://${s!.leader}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`href="https://127.0.0.1:${volumePorts[0]}/"`);
    expect(page.text).not.toMatch(/href="http:\/\/127/);
    const ps = shell("cluster.raft.ps");
    expect(ps.code, ps.err).toBe(0);
    expect(ps.out).toContain(s!.leader!);
    const list = shell("volume.list");
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(`127.0.0.1:${volumePorts[1]}`);
  });
});
