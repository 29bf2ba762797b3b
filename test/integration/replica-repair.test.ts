// Replica repair after a lost server (issue 11): a master (-pulseSeconds=1) and four volume
// servers on racks r1-r4, a writer uploading replication=010 blobs through assign + upload while
// one replica's server is killed (-9) mid-way. Every blob acknowledged (201) before, during and
// after stays readable; every blob whose write started after the kill and was acknowledged is on
// two live servers at once (never a 201 with one copy); failed writes are "outcome unknown" and
// need not exist. Then the copies come back, byte-identical on every location lookup lists:
// (i) by `volume.fix.replication -apply` with the leader's repair off (-repairGraceSeconds=0),
// (ii) by the leader by itself with a 2 s grace, within a bounded time, (iii) by a new leader
// (three masters) when the old one dies within the grace.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const run = promisify(execFile);

/** The writer's bounds: this many uploads at most, by this many workers, for this long at most. */
const WRITES_MAX = 240;
const WRITERS = 4;
const WRITER_TIME_MAX_MS = 45_000;
/** The kill comes once this many uploads were acknowledged. */
const KILL_AFTER_ACKS = 60;
/** One assign or upload; a write to a dead replica fails within the volume server's bound (~8 s). */
const REQUEST_TIMEOUT_MS = 15_000;
/** The leader's own repair: grace 2 s + a scan + small copies + heartbeats, on a shared machine. */
const AUTO_REPAIR_BOUND_MS = 30_000;
/**
 * After a leader change: an election, the volume servers moving over, the 3 s warm-up, the 5 s
 * grace counted from the new leader's first scan, the copies and checks, on a shared machine.
 */
const NEW_LEADER_REPAIR_BOUND_MS = 45_000;

interface Written {
  fid: string;
  body: Buffer;
  /** The upload started after the killed server had exited. */
  afterKill: boolean;
}

interface Cluster {
  tmp: TempDir;
  /** The master the test asks (any live one: a follower answers from the leader). */
  masterPort: number;
  master: WeedProcess;
  /** All masters, `master` included. */
  masters: { port: number; proc: WeedProcess }[];
  volumes: { port: number; proc: WeedProcess }[];
}

let current: Cluster | undefined;

afterEach(async () => {
  const c = current;
  current = undefined;
  if (c === undefined) return;
  for (const v of c.volumes) await v.proc.stop();
  for (const m of c.masters) await m.proc.stop();
  await c.tmp.remove();
});

/** `masters` masters (one group, -peers) and four volume servers on racks r1-r4. */
async function startCluster(graceSeconds: number, masters = 1): Promise<Cluster> {
  const tmp = await tempDir("weed-ts-replica-repair-");
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePortPair());
  const peers = ports.map((p) => `127.0.0.1:${p}`).join(",");
  const started = ports.map((port, i) => {
    const args = ["master", `-mdir=${tmp.dir}/m${i}`, "-ip=127.0.0.1", `-port=${port}`, "-pulseSeconds=1"];
    if (masters > 1) args.push(`-peers=${peers}`);
    args.push(`-repairGraceSeconds=${graceSeconds}`, "-logLevel=info");
    return { port, proc: new WeedProcess(args) };
  });
  const c: Cluster = { tmp, masterPort: ports[0]!, master: started[0]!.proc, masters: started, volumes: [] };
  current = c;
  for (const m of started) await waitHttpOk(`http://127.0.0.1:${m.port}/healthz`, m.proc);
  for (let i = 0; i < 4; i++) {
    const port = await freePortPair();
    // Room for two growths of six 010 volumes (12 slots each) over three or four servers, and copies.
    const args = ["volume", `-dir=${tmp.dir}/v${i}`, "-ip=127.0.0.1", `-port=${port}`, "-max=20"];
    args.push(`-mserver=${peers}`, "-pulseSeconds=1", `-rack=r${i + 1}`, "-logLevel=warn");
    c.volumes.push({ port, proc: new WeedProcess(args) });
  }
  for (const v of c.volumes) await waitHttpOk(`http://127.0.0.1:${v.port}/healthz`, v.proc);
  await waitFor(async () => (await nodeCount(c)) === 4, { ...PROCESS_WAIT, what: "four volume servers" });
  return c;
}

async function nodeCount(c: Cluster): Promise<number> {
  const s = await getJson(`http://127.0.0.1:${c.masterPort}/dir/status`);
  let n = 0;
  for (const dc of s.json.Topology.DataCenters ?? []) for (const rack of dc.Racks ?? []) n += rack.DataNodes.length;
  return n;
}

async function locations(c: Cluster, fid: string): Promise<string[]> {
  const l = await getJson(`http://127.0.0.1:${c.masterPort}/dir/lookup?volumeId=${fid.split(",")[0]}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

async function readAt(server: string, fid: string): Promise<Buffer | number> {
  const r = await request(`http://${server}/${fid}`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  return r.statusCode === 200 ? body : r.statusCode;
}

/** One assign + upload; resolves with the fid when acknowledged (201), undefined otherwise. */
async function writeOne(c: Cluster, body: Buffer): Promise<string | undefined> {
  const t = { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS };
  const a = await getJson(`http://127.0.0.1:${c.masterPort}/dir/assign?replication=010`, t).catch(() => undefined);
  if (a?.status !== 200) return undefined; // no fid handed out: nothing was written
  const r = await request(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body, ...t }).catch(() => undefined);
  if (r === undefined) return undefined;
  await r.body.dump();
  return r.statusCode === 201 ? (a.json.fid as string) : undefined;
}

/**
 * Uploads until WRITES_MAX were tried (or WRITER_TIME_MAX_MS), killing volume server `victim` -9
 * once KILL_AFTER_ACKS were acknowledged. Writes not acknowledged are outcome unknown: counted,
 * not kept.
 */
async function writeThroughKill(c: Cluster, victim: number): Promise<{ acked: Written[]; unknown: number }> {
  const acked: Written[] = [];
  let tried = 0;
  let unknown = 0;
  let killed = false;
  let kill: Promise<void> | undefined;
  const deadline = performance.now() + WRITER_TIME_MAX_MS;
  const worker = async (): Promise<void> => {
    while (tried < WRITES_MAX && performance.now() < deadline) {
      tried++;
      const body = randomBytes(1000 + Math.floor(Math.random() * 20_000));
      const afterKill = killed;
      const fid = await writeOne(c, body);
      if (fid === undefined) unknown++;
      else acked.push({ fid, body, afterKill });
      if (kill === undefined && acked.length >= KILL_AFTER_ACKS) {
        kill = c.volumes[victim]!.proc.kill9().then(() => void (killed = true));
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, worker));
  await kill;
  return { acked, unknown };
}

/** Every acknowledged blob readable from a live server (any location lookup lists). */
async function expectReadable(c: Cluster, acked: readonly Written[]): Promise<void> {
  for (const w of acked) {
    const at = await locations(c, w.fid);
    expect(at.length, `${w.fid} has a location`).toBeGreaterThanOrEqual(1);
    const got = await readAt(at[0]!, w.fid);
    expect(got instanceof Buffer && got.equals(w.body), `${w.fid} readable at ${at[0]}`).toBe(true);
  }
}

/** Every blob on `copies` locations or more, the same bytes at each. */
async function expectCopies(c: Cluster, acked: readonly Written[], copies: number): Promise<void> {
  for (const w of acked) {
    const at = await locations(c, w.fid);
    expect(at.length, `${w.fid} at ${at.join(" ")}`).toBeGreaterThanOrEqual(copies);
    for (const server of at) {
      const got = await readAt(server, w.fid);
      expect(got instanceof Buffer && got.equals(w.body), `${w.fid} byte-identical at ${server}`).toBe(true);
    }
  }
}

/** The opening both repairs share: the kill in the middle of the writer, and what must hold at once. */
async function killMidWriter(c: Cluster): Promise<Written[]> {
  const victim = 1;
  const victimUrl = `127.0.0.1:${c.volumes[victim]!.port}`;
  const { acked, unknown } = await writeThroughKill(c, victim);
  expect(c.volumes[victim]!.proc.exited).toBe(true);
  expect(acked.length).toBeGreaterThan(KILL_AFTER_ACKS);
  const after = acked.filter((w) => w.afterKill);
  expect(after.length, `acknowledged after the kill (${unknown} outcome unknown)`).toBeGreaterThan(10);
  await waitFor(async () => (await nodeCount(c)) === 3, { ...PROCESS_WAIT, what: "the killed server dropped" });
  await expectReadable(c, acked);
  // A write begun after the kill and acknowledged had both copies on live servers.
  for (const w of after) expect(await locations(c, w.fid)).not.toContain(victimUrl);
  await expectCopies(c, after, 2);
  return acked;
}

describe("replica repair after a server is killed (-9) under a writer", () => {
  it("volume.fix.replication -apply restores every volume to two copies, byte-identical", async () => {
    const c = await startCluster(0);
    const acked = await killMidWriter(c);
    const shortBefore = await shortVolumes(c);
    expect(shortBefore.length, "volumes that lost a copy").toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 3_000)); // the leader's repair is off: nothing happens
    expect(await shortVolumes(c)).toEqual(shortBefore);
    const r = await run(
      process.execPath,
      [BIN, "shell", `-master=127.0.0.1:${c.masterPort}`, "volume.fix.replication", "-apply"],
      { timeout: 60_000 },
    );
    for (const vid of shortBefore)
      expect(r.stdout).toContain(`volume ${vid} replication 010, but under replicated 1/2`);
    expect(await shortVolumes(c)).toEqual([]);
    await expectCopies(c, acked, 2);
    expect(c.master.logs()).not.toContain("repair started");
  }, 150_000);

  it("the leader repairs by itself once the grace has passed, within a bounded time", async () => {
    const c = await startCluster(2);
    const acked = await killMidWriter(c);
    await waitFor(() => repaired(c, acked), {
      timeoutMs: AUTO_REPAIR_BOUND_MS,
      intervalMs: 250,
      what: "every volume with two copies again, none needing a check",
    });
    expect(await shortVolumes(c)).toEqual([]);
    await expectCopies(c, acked, 2);
    type Finished = { job: string; bytes: number; seconds: number; from: string; to: string };
    const copiesLogged = (): Finished[] =>
      c.master
        .logs()
        .split("\n")
        .filter((l) => l.includes('"repair finished"'))
        .map((l) => JSON.parse(l) as Finished)
        .filter((f) => f.job === "copy");
    // The new replica can be seen (the target's heartbeat) a moment before the copy call returns
    // to the leader and its log line reaches our pipe.
    await waitFor(() => copiesLogged().length > 0, { timeoutMs: 10_000, what: "'repair finished' logged for a copy" });
    const copies = copiesLogged();
    for (const f of copies) {
      expect(f.bytes).toBeGreaterThan(0);
      expect(f.seconds).toBeGreaterThanOrEqual(0);
      expect(f.from).not.toBe(f.to);
    }
  }, 150_000);

  it("a new leader picks the repair up after its warm-up when the old one died within the grace", async () => {
    const c = await startCluster(5, 3);
    const acked: Written[] = [];
    for (let i = 0; i < 40; i++) {
      const body = randomBytes(2_000 + i * 301);
      const fid = await writeOne(c, body);
      if (fid !== undefined) acked.push({ fid, body, afterKill: false });
    }
    expect(acked.length).toBeGreaterThan(30);
    const old = await leaderIndex(c);
    c.masterPort = c.masters[(old + 1) % 3]!.port; // one that stays
    await c.volumes[1]!.proc.kill9();
    await waitFor(async () => (await nodeCount(c)) === 3, { ...PROCESS_WAIT, what: "the killed server dropped" });
    // Asked of a follower, whose view of the servers may lag the leader's by a copy interval.
    const short = await eventually(
      async () => {
        const found = await shortVolumes(c);
        expect(found.length).toBeGreaterThan(0);
        return found;
      },
      { ...PROCESS_WAIT, what: "volumes short a copy" },
    );
    await c.masters[old]!.proc.kill9(); // well within its 5 s grace: it copied nothing
    expect(c.masters[old]!.proc.logs()).not.toMatch(/"job":"copy".*"msg":"repair started"/);
    await waitFor(() => repaired(c, acked), {
      timeoutMs: NEW_LEADER_REPAIR_BOUND_MS,
      intervalMs: 250,
      what: "every volume with two copies again, under the new leader",
    });
    await expectCopies(c, acked, 2);
    const leader = c.masters[await leaderIndex(c)]!.proc;
    for (const vid of short)
      expect(leader.logs()).toMatch(new RegExp(`"volumeId":${vid},"job":"copy".*"repair finished"`));
  }, 150_000);
});

/** Index in c.masters of the master that says it leads, among those still running. */
async function leaderIndex(c: Cluster): Promise<number> {
  return eventually(
    async () => {
      for (const [i, m] of c.masters.entries()) {
        if (m.proc.exited) continue;
        const s = await getJson(`http://127.0.0.1:${m.port}/cluster/status`).catch(() => undefined);
        if (s?.json?.IsLeader === true) return i;
      }
      throw new Error("no master says it leads");
    },
    { ...PROCESS_WAIT, what: "a leader" },
  );
}

/**
 * Every volume written to has two locations, and none is listed as short or needing a check:
 * copied, then checked where a write failed part way when the server died (the replicas converge
 * and take writes again). By lookups, since a new leader's topology is empty at first.
 */
async function repaired(c: Cluster, acked: readonly Written[]): Promise<boolean> {
  for (const vid of new Set(acked.map((w) => w.fid.split(",")[0]!)))
    if ((await locations(c, `${vid},0`)).length < 2) return false;
  return (await unhealthy(c)).length === 0;
}

/** Volume ids the leader lists as under-replicated or needing a check. */
async function unhealthy(c: Cluster): Promise<number[]> {
  const s = await getJson(`http://127.0.0.1:${c.masterPort}/dir/status`);
  const layouts = (s.json.Topology.Layouts ?? []) as { underReplicated?: number[]; needsCheck?: number[] }[];
  return layouts.flatMap((l) => [...(l.underReplicated ?? []), ...(l.needsCheck ?? [])]);
}

/** Volume ids with fewer locations than their 010 placement asks for, by the master's lookup. */
async function shortVolumes(c: Cluster): Promise<number[]> {
  const s = await getJson(`http://127.0.0.1:${c.masterPort}/vol/status`);
  const holders = new Map<number, number>();
  for (const racks of Object.values(s.json.Volumes.DataCenters ?? {}) as Record<string, Record<string, any[]>>[])
    for (const nodes of Object.values(racks))
      for (const vols of Object.values(nodes)) for (const v of vols) holders.set(v.Id, (holders.get(v.Id) ?? 0) + 1);
  return [...holders]
    .filter(([, n]) => n < 2)
    .map(([vid]) => vid)
    .sort((a, b) => a - b);
}
