// JWT-secured clusters (issue 12, SeaweedFS's [jwt.signing] and [jwt.signing.read]): a master and
// two volume servers on racks r1/r2, each started with -security=<file>. Assign hands out a write
// token; uploads and deletes need it for their fid (401 and nothing changed otherwise); replicated
// writes carry it to the replica, which checks it too; /submit and `weed-ts benchmark` work. With
// [jwt.signing.read], reads need the token /dir/lookup?fileId=..&read=yes hands out.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { SignJWT } from "jose";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Seaweed } from "../../src/gen/master_pb.js";
import { createClient } from "../../src/grpc/adapter.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const WRITE_KEY = randomBytes(24).toString("base64");
const READ_KEY = randomBytes(24).toString("base64");
/** `weed-ts benchmark -n 200` on a loaded two-core machine, writes and reads, with room to spare. */
const BENCHMARK_TIMEOUT_MS = 60_000;

interface Cluster {
  tmp: TempDir;
  securityFile: string;
  master: WeedProcess;
  masterUrl: string;
  volumes: { proc: WeedProcess; url: string }[];
}

async function startCluster(prefix: string, toml: string, readModes: string[]): Promise<Cluster> {
  const tmp = await tempDir(prefix);
  const securityFile = `${tmp.dir}/security.toml`;
  await writeFile(securityFile, toml);
  const masterPort = await freePortPair();
  const master = new WeedProcess([
    "master",
    `-mdir=${tmp.dir}/m`,
    "-ip=127.0.0.1",
    `-port=${masterPort}`,
    `-security=${securityFile}`,
    "-logLevel=warn",
  ]);
  const c: Cluster = { tmp, securityFile, master, masterUrl: `127.0.0.1:${masterPort}`, volumes: [] };
  await waitHttpOk(`http://${c.masterUrl}/healthz`, master);
  for (const [i, mode] of readModes.entries()) {
    const port = await freePortPair();
    const args = ["volume", `-dir=${tmp.dir}/v${i}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=${c.masterUrl}`];
    args.push(`-rack=r${i + 1}`, "-max=20", `-readMode=${mode}`, `-security=${securityFile}`, "-logLevel=warn");
    c.volumes.push({ proc: new WeedProcess(args), url: `127.0.0.1:${port}` });
  }
  for (const v of c.volumes) await waitHttpOk(`http://${v.url}/healthz`, v.proc);
  await waitFor(
    async () => {
      const s = await getJson(`http://${c.masterUrl}/dir/status`);
      const racks = s.json?.Topology?.DataCenters?.[0]?.Racks ?? [];
      return racks.length === readModes.length;
    },
    { ...PROCESS_WAIT, what: "volume servers registered" },
  );
  return c;
}

async function stopCluster(c: Cluster | undefined): Promise<void> {
  if (c === undefined) return;
  for (const v of c.volumes) await v.proc.stop();
  await c.master.stop();
  await c.tmp.remove();
}

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 20_000, bodyTimeout: 20_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, text: body.toString("utf8") };
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

async function assign(c: Cluster, replication = "000"): Promise<{ fid: string; url: string; auth: string }> {
  const a = await getJson(`http://${c.masterUrl}/dir/assign?replication=${replication}`);
  expect(a.status, JSON.stringify(a.json)).toBe(200);
  expect(typeof a.json.auth).toBe("string");
  return { fid: a.json.fid, url: a.json.url, auth: a.json.auth };
}

async function lookupFid(c: Cluster, fid: string, read = false): Promise<{ urls: string[]; auth: string }> {
  const l = await getJson(`http://${c.masterUrl}/dir/lookup?fileId=${fid}${read ? "&read=yes" : ""}`);
  expect(l.status, JSON.stringify(l.json)).toBe(200);
  return { urls: (l.json.locations as { url: string }[]).map((x) => x.url), auth: l.json.auth };
}

async function runBenchmark(c: Cluster): Promise<{ code: number | null; logs: string }> {
  const args = ["benchmark", `-master=${c.masterUrl}`, "-n=200", "-c=4", `-list=${c.tmp.dir}/bench.list`];
  const p = new WeedProcess([...args, `-security=${c.securityFile}`]);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), BENCHMARK_TIMEOUT_MS);
  const code = await p.exit();
  clearTimeout(timer);
  return { code, logs: p.logs() };
}

describe("[jwt.signing]: writes and deletes need the fid's token", () => {
  let c: Cluster;
  beforeAll(async () => {
    const toml = `[jwt.signing]\nkey = "${WRITE_KEY}"\nexpires_after_seconds = 10\n`;
    c = await startCluster("weed-ts-jwt-", toml, ["proxy", "redirect"]);
  }, 60_000);
  afterAll(() => stopCluster(c));

  it("assign -> upload with the token (201) -> read -> delete with a lookup's token (202)", async () => {
    const a = await getJson(`http://${c.masterUrl}/dir/assign`);
    expect(a.status).toBe(200);
    expect(a.headers["authorization"]).toBe(`Bearer ${a.json.auth}`);
    const body = randomBytes(1000);
    const w = await send(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body, headers: bearer(a.json.auth) });
    expect(w.status, w.text).toBe(201);
    const r = await send(`http://${a.json.url}/${a.json.fid}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(body)).toBe(true);
    const l = await lookupFid(c, a.json.fid);
    expect(l.auth).toEqual(expect.any(String));
    const d = await send(`http://${l.urls[0]}/${a.json.fid}?jwt=${l.auth}`, { method: "DELETE" });
    expect(d.status, d.text).toBe(202);
    expect((await send(`http://${a.json.url}/${a.json.fid}`)).status).toBe(404);
  });

  it("no token, another fid's token, a tampered or expired one: 401 saying why, and the blob unchanged", async () => {
    const a = await assign(c);
    const url = `http://${a.url}/${a.fid}`;
    const old = randomBytes(500);
    expect((await send(url, { method: "POST", body: old, headers: bearer(a.auth) })).status).toBe(201);
    const other = await assign(c);
    const [h, p, s] = a.auth.split(".") as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ fid: other.fid, exp: 4_000_000_000 })).toString("base64url");
    const expired = await new SignJWT({ fid: a.fid })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 1)
      .sign(new TextEncoder().encode(WRITE_KEY));
    const attempts: [Record<string, string>, RegExp][] = [
      [{}, /missing jwt/],
      [bearer(other.auth), /is for fid/],
      [bearer(`${h}.${forged}.${s}`), /signature/],
      [bearer(`${h}.${p}.${(s[0] === "A" ? "B" : "A") + s.slice(1)}`), /signature/],
      [{ cookie: `AT=${expired}` }, /expired/],
    ];
    for (const [headers, why] of attempts) {
      const w = await send(url, { method: "PUT", body: randomBytes(500), headers });
      expect(w.status, w.text).toBe(401);
      const error = JSON.parse(w.text).error as string;
      expect(error).toMatch(why);
      expect(error).not.toContain(WRITE_KEY);
      const d = await send(url, { method: "DELETE", headers });
      expect(d.status, d.text).toBe(401);
    }
    const r = await send(url);
    expect(r.status).toBe(200);
    expect(r.body.equals(old)).toBe(true);
    // A fid nobody assigned cannot be written either.
    const stranger = await send(`http://${a.url}/${a.fid.split(",")[0]},7777aaaa0001`, { method: "PUT", body: old });
    expect(stranger.status).toBe(401);
  });

  it("a replication=010 write with the token is on both replicas; a replica's copy without it is refused", async () => {
    const a = await assign(c, "010");
    const body = randomBytes(2000);
    const w = await send(`http://${a.url}/${a.fid}`, { method: "PUT", body, headers: bearer(a.auth) });
    expect(w.status, w.text).toBe(201);
    const l = await lookupFid(c, a.fid);
    expect(l.urls.length).toBe(2);
    for (const u of l.urls) {
      const r = await send(`http://${u}/${a.fid}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(body)).toBe(true);
    }
    const replica = l.urls.find((u) => u !== a.url)!;
    const sneak = await send(`http://${replica}/${a.fid}?type=replicate`, { method: "PUT", body: randomBytes(10) });
    expect(sneak.status).toBe(401);
    const d = await send(`http://${a.url}/${a.fid}`, { method: "DELETE", headers: bearer(l.auth) });
    expect(d.status, d.text).toBe(202);
    for (const u of l.urls) expect((await send(`http://${u}/${a.fid}`)).status).toBe(404);
  });

  it("count=2: the first fid's token also covers fid_1 (SeaweedFS's convention), not another key", async () => {
    const a = await getJson(`http://${c.masterUrl}/dir/assign?count=2`);
    expect(a.status).toBe(200);
    const { fid, url, auth } = a.json as { fid: string; url: string; auth: string };
    for (const f of [fid, `${fid}_1`]) {
      const w = await send(`http://${url}/${f}`, { method: "PUT", body: randomBytes(50), headers: bearer(auth) });
      expect(w.status, w.text).toBe(201);
    }
    const [vid, keyCookie] = fid.split(",") as [string, string];
    const nextKey = (BigInt(`0x${keyCookie.slice(0, -8)}`) + 2n).toString(16).padStart(2, "0");
    const w = await send(`http://${url}/${vid},${nextKey}${keyCookie.slice(-8)}`, {
      method: "PUT",
      body: randomBytes(50),
      headers: bearer(auth),
    });
    expect(w.status, w.text).toBe(401);
  });

  it("gRPC Assign and LookupVolume of a fid answer a write token in auth", async () => {
    const port = Number(c.masterUrl.split(":")[1]) + 10_000;
    const g = createClient(Seaweed, `127.0.0.1:${port}`);
    try {
      const a = await g.assign({ count: 1n }, { timeoutMs: 10_000 });
      expect(a.error).toBe("");
      const body = randomBytes(64);
      const url = `http://${a.location!.url}/${a.fid}`;
      expect((await send(url, { method: "PUT", body, headers: bearer(a.auth) })).status).toBe(201);
      const l = await g.lookupVolume({ volumeOrFileIds: [a.fid, a.fid.split(",")[0]!] }, { timeoutMs: 10_000 });
      const [byFid, byVolume] = l.volumeIdLocations;
      expect(byVolume!.auth).toBe("");
      expect((await send(url, { method: "DELETE", headers: bearer(byFid!.auth) })).status).toBe(202);
    } finally {
      g.close();
    }
  });

  it("/submit uploads with the token the master minted", async () => {
    const boundary = "jwtsubmit";
    const data = randomBytes(300);
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const headers = { "content-type": `multipart/form-data; boundary=${boundary}` };
    const s = await send(`http://${c.masterUrl}/submit`, { method: "POST", body, headers });
    expect(s.status, s.text).toBe(201);
    const fid = JSON.parse(s.text).fid as string;
    const l = await lookupFid(c, fid);
    expect((await send(`http://${l.urls[0]}/${fid}`)).body.equals(data)).toBe(true);
  });

  it(
    "weed-ts benchmark -n 200 succeeds against the secured cluster",
    async () => {
      const { code, logs } = await runBenchmark(c);
      expect(code, logs).toBe(0);
      expect(logs).toMatch(/Failed requests:\s+0/);
    },
    BENCHMARK_TIMEOUT_MS + 5_000,
  );
});

describe("[jwt.signing.read]: reads need a read token; a 2 s write token expires", () => {
  let c: Cluster;
  beforeAll(async () => {
    const toml =
      `[jwt.signing]\nkey = "${WRITE_KEY}"\nexpires_after_seconds = 2\n` +
      `[jwt.signing.read]\nkey = "${READ_KEY}"\nexpires_after_seconds = 60\n`;
    c = await startCluster("weed-ts-jwt-read-", toml, ["proxy", "proxy"]);
  }, 60_000);
  afterAll(() => stopCluster(c));

  it("a read needs the lookup's read token: none or the write token is 401; a proxied read passes it on", async () => {
    const a = await assign(c, "000");
    const body = randomBytes(700);
    expect((await send(`http://${a.url}/${a.fid}`, { method: "PUT", body, headers: bearer(a.auth) })).status).toBe(201);
    expect((await send(`http://${a.url}/${a.fid}`)).status).toBe(401);
    expect((await send(`http://${a.url}/${a.fid}`, { method: "HEAD" })).status).toBe(401);
    expect((await send(`http://${a.url}/${a.fid}`, { headers: bearer(a.auth) })).status).toBe(401);
    const l = await lookupFid(c, a.fid, true);
    const r = await send(`http://${a.url}/${a.fid}`, { headers: bearer(l.auth) });
    expect(r.status, r.text).toBe(200);
    expect(r.body.equals(body)).toBe(true);
    const other = c.volumes.map((v) => v.url).find((u) => u !== a.url)!;
    const proxied = await send(`http://${other}/${a.fid}`, { headers: { cookie: `AT=${l.auth}` } });
    expect(proxied.status, proxied.text).toBe(200);
    expect(proxied.body.equals(body)).toBe(true);
  });

  it("an upload after its 2 s token expired is refused as expired, and nothing is stored", async () => {
    const a = await assign(c, "000");
    const started = performance.now();
    // Bounded: a 2 s token's exp is under 3 s ahead (whole seconds, rounded up); 3.2 s later it has passed.
    await new Promise((r) => setTimeout(r, 3_200));
    expect(performance.now() - started).toBeLessThan(10_000);
    const w = await send(`http://${a.url}/${a.fid}`, { method: "PUT", body: randomBytes(10), headers: bearer(a.auth) });
    expect(w.status, w.text).toBe(401);
    expect(JSON.parse(w.text).error).toMatch(/expired/);
    const l = await lookupFid(c, a.fid, true);
    expect((await send(`http://${a.url}/${a.fid}`, { headers: bearer(l.auth) })).status).toBe(404);
  });

  it(
    "weed-ts benchmark -n 200 reads with lookup's read tokens",
    async () => {
      const { code, logs } = await runBenchmark(c);
      expect(code, logs).toBe(0);
      expect(logs).toMatch(/Failed requests:\s+0[\s\S]*Failed requests:\s+0/);
    },
    BENCHMARK_TIMEOUT_MS + 5_000,
  );
});
