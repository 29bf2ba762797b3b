// Three Raft masters and two volume servers as real processes: the seed's HA cluster.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { spawnSync } from "node:child_process";
import { Seaweed } from "../../src/gen/master_pb.js";
import { createClient } from "../../src/grpc/adapter.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let root: string;
const masterPorts: number[] = [];
const volumePorts: number[] = [];
const masters: WeedProcess[] = [];
const volumes: WeedProcess[] = [];
let peers: string;

function startMaster(i: number): WeedProcess {
  return new WeedProcess([
    "master",
    `-mdir=${root}/m${i}`,
    "-ip=127.0.0.1",
    `-port=${masterPorts[i]}`,
    `-peers=${peers}`,
    "-logLevel=warn",
  ]);
}

function startVolume(i: number): WeedProcess {
  return new WeedProcess([
    "volume",
    `-dir=${root}/v${i}`,
    "-ip=127.0.0.1",
    `-port=${volumePorts[i]}`,
    `-mserver=${peers}`,
    "-max=8",
    "-logLevel=warn",
  ]);
}

interface ClusterStatus {
  IsLeader: boolean;
  Leader: string;
  Peers: string[];
  MaxVolumeId: number;
}

async function statusOf(i: number): Promise<ClusterStatus | undefined> {
  try {
    const r = await getJson(`http://127.0.0.1:${masterPorts[i]}/cluster/status`, {
      headersTimeout: 1000,
      bodyTimeout: 1000,
    });
    return r.status === 200 ? (r.json as ClusterStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until every live master names the same leader, and exactly one says it leads. */
async function agreedLeader(live: number[]): Promise<number> {
  return eventually(
    async () => {
      const all = await Promise.all(live.map(statusOf));
      if (all.some((s) => s === undefined)) throw new Error("a master does not answer");
      const leaders = new Set(all.map((s) => s!.Leader));
      const claiming = live.filter((_, k) => all[k]!.IsLeader);
      if (leaders.size !== 1 || claiming.length !== 1 || [...leaders][0] === "")
        throw new Error(`leaders named: ${[...leaders].join(",")}; claiming: ${claiming.join(",")}`);
      return claiming[0]!;
    },
    { ...PROCESS_WAIT, intervalMs: 50, what: "one leader agreed by all" },
  );
}

async function registeredNodes(masterIndex: number): Promise<number> {
  const s = await getJson(`http://127.0.0.1:${masterPorts[masterIndex]}/dir/status`);
  if (s.status !== 200) return -1;
  let n = 0;
  for (const dc of s.json.Topology.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) n += (rack.DataNodes ?? []).length;
  return n;
}

async function submit(masterIndex: number, content: Buffer): Promise<{ status: number; json: any }> {
  const form = new FormData();
  form.append("file", new Blob([content]), "blob.bin");
  const r = await request(`http://127.0.0.1:${masterPorts[masterIndex]}/submit`, {
    method: "POST",
    body: form,
    headersTimeout: 10_000,
  });
  return { status: r.statusCode, json: await r.body.json() };
}

const acknowledged: { fileUrl: string; content: Buffer }[] = [];

/** A 503 with Retry-After (no leader yet, volume servers still reporting) is retried as told; so is a broken link. */
const SUBMIT_ATTEMPTS_MAX = 10;

/**
 * A submit whose connection broke (a keep-alive connection the master closed as the request went
 * out: EPIPE, ECONNRESET) has an unknown outcome: it is sent again and only a 201 counts.
 */
async function submitOrBroken(masterIndex: number, content: Buffer): Promise<{ status: number; json: any }> {
  try {
    return await submit(masterIndex, content);
  } catch (err) {
    return { status: 0, json: { error: String(err) } };
  }
}

async function submitOk(masterIndex: number): Promise<void> {
  const content = randomBytes(300 + acknowledged.length);
  let r = await submitOrBroken(masterIndex, content);
  for (let attempt = 1; attempt < SUBMIT_ATTEMPTS_MAX && (r.status === 503 || r.status === 0); attempt++) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await submitOrBroken(masterIndex, content);
  }
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  acknowledged.push({ fileUrl: r.json.fileUrl, content });
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-masters-ha-");
  root = tmp.dir;
  for (let i = 0; i < 3; i++) masterPorts.push(await freePortPair());
  for (let i = 0; i < 2; i++) volumePorts.push(await freePortPair());
  peers = masterPorts.map((p) => `127.0.0.1:${p}`).join(",");
  for (let i = 0; i < 3; i++) masters.push(startMaster(i));
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://127.0.0.1:${masterPorts[i]}/healthz`, masters[i]);
  for (let i = 0; i < 2; i++) volumes.push(startVolume(i));
  const leader = await agreedLeader([0, 1, 2]);
  await waitFor(async () => (await registeredNodes(leader)) === 2, {
    ...PROCESS_WAIT,
    what: "both volume servers registered with the leader",
  });
});

afterAll(async () => {
  for (const p of [...volumes, ...masters]) await p.stop();
  await tmp?.remove();
});

describe("three Raft masters", () => {
  it("agree on one leader; every master lists the others", async () => {
    const leader = await agreedLeader([0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      const s = (await statusOf(i))!;
      expect(s.Leader).toBe(`127.0.0.1:${masterPorts[leader]}`);
      expect(s.IsLeader).toBe(i === leader);
      expect(s.Peers.sort()).toEqual(
        masterPorts
          .filter((_, k) => k !== i)
          .map((p) => `127.0.0.1:${p}`)
          .sort(),
      );
    }
    // The status page: the leader shows its volume servers; a follower sends the reader there.
    const leaderPage = await (await request(`http://127.0.0.1:${masterPorts[leader]}/`)).body.text();
    for (const p of volumePorts) expect(leaderPage).toContain(`127.0.0.1:${p}`);
    const followerPage = await (await request(`http://127.0.0.1:${masterPorts[(leader + 1) % 3]}/`)).body.text();
    expect(followerPage).toContain(
      `Volume servers report to the leader: see <a href="http://127.0.0.1:${masterPorts[leader]}/">`,
    );
    expect(followerPage).not.toContain("no volume servers");
  });

  it("weed-ts shell shows the leader and every master with its role, from any master", async () => {
    const leader = await agreedLeader([0, 1, 2]);
    const follower = (leader + 1) % 3;
    const r = spawnSync(
      process.execPath,
      [BIN, "shell", `-master=127.0.0.1:${masterPorts[follower]}`, "cluster.status"],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`current leader master: 127.0.0.1:${masterPorts[leader]}`);
    expect(r.stdout).toMatch(/^All masters: \[.*\]$/m);
    for (let i = 0; i < 3; i++)
      expect(r.stdout).toContain(`127.0.0.1:${masterPorts[i]}(${i === leader ? "leader" : "follower"})`);

    const ps = spawnSync(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPorts[leader]}`], {
      input: "cluster.raft.ps\n",
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(ps.status, ps.stderr).toBe(0);
    expect(ps.stdout).toContain("the raft cluster has 3 servers");
    expect(ps.stdout.match(/^\* 127\.0\.0\.1:\d+ (leader|follower) term=\d+ commit=\d+ applied=\d+/gm)?.length).toBe(3);
    // The leader's view: how far each follower has replicated and when it was last heard from.
    expect(ps.stdout.match(/^\* 127\.0\.0\.1:\d+ follower .* match=\d+ heard=\d+ms$/gm)?.length).toBe(2);
  });

  it("takes /submit and /dir/assign through every master; a follower's lookup is the leader's", async () => {
    for (let i = 0; i < 3; i++) {
      await submitOk(i);
      const a = await getJson(`http://127.0.0.1:${masterPorts[i]}/dir/assign`);
      expect(a.status).toBe(200);
      const vid = String(a.json.fid).split(",")[0];
      const l = await getJson(`http://127.0.0.1:${masterPorts[i]}/dir/lookup?volumeId=${vid}`);
      expect(l.status).toBe(200);
      expect(l.json.locations.length).toBeGreaterThan(0);
    }
  });

  it("a follower passes gRPC Assign and LookupVolume on to the leader", async () => {
    const leader = await agreedLeader([0, 1, 2]);
    const follower = (leader + 2) % 3;
    const client = createClient(Seaweed, `127.0.0.1:${masterPorts[follower]! + 10000}`);
    try {
      const a = await client.assign({ count: 1n }, { timeoutMs: 10_000 });
      expect(a.error).toBe("");
      expect(a.fid).toMatch(/^\d+,[0-9a-f]+$/);
      expect(a.location?.url).toMatch(/^127\.0\.0\.1:\d+$/);
      const l = await client.lookupVolume({ volumeOrFileIds: [a.fid] }, { timeoutMs: 10_000 });
      expect(l.volumeIdLocations[0]?.locations.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it("kill -9 of the leader: survivors take writes, volume servers re-register, it rejoins as a follower", async () => {
    const old = await agreedLeader([0, 1, 2]);
    await masters[old]!.kill9();
    const live = [0, 1, 2].filter((i) => i !== old);
    const leader = await agreedLeader(live);
    expect(leader).not.toBe(old);
    await waitFor(async () => (await registeredNodes(leader)) === 2, {
      ...PROCESS_WAIT,
      what: "volume servers re-registered with the new leader",
    });
    for (const i of live) await submitOk(i);

    masters[old] = startMaster(old);
    await waitHttpOk(`http://127.0.0.1:${masterPorts[old]}/healthz`, masters[old]);
    const after = await agreedLeader([0, 1, 2]);
    expect(after).toBe(leader);
    expect((await statusOf(old))!.IsLeader).toBe(false);
    await submitOk(old);
  });

  it("a leader stopped with SIGSTOP is replaced; after SIGCONT it follows and never answers as leader", async () => {
    const old = await agreedLeader([0, 1, 2]);
    const proc = masters[old]!;
    process.kill(proc.pid, "SIGSTOP");
    try {
      const live = [0, 1, 2].filter((i) => i !== old);
      const leader = await agreedLeader(live);
      expect(leader).not.toBe(old);
      // Volume servers notice the hung master by keepalive and move to the new leader.
      const since = Date.now();
      await waitFor(async () => (await registeredNodes(leader)) === 2, {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: "volume servers moved to the new leader",
      });
      expect(Date.now() - since).toBeLessThan(8_000);
      await submitOk(live[0]!);
    } finally {
      process.kill(proc.pid, "SIGCONT");
    }
    // Its first answers after waking must not claim leadership over the new leader.
    const first = await statusOf(old);
    expect(first?.IsLeader ?? false).toBe(false);
    const after = await agreedLeader([0, 1, 2]);
    expect(after).not.toBe(old);
    await submitOk(old);
  });

  it("hands out no file key twice across repeated leader kills", async () => {
    const keys = new Set<string>();
    let total = 0;
    for (let round = 0; round < 3; round++) {
      const leader = await agreedLeader([0, 1, 2]);
      const live = [0, 1, 2];
      for (let k = 0; k < 300; k++) {
        const i = live[k % 3]!;
        const a = await getJson(`http://127.0.0.1:${masterPorts[i]}/dir/assign?count=1`);
        if (a.status !== 200) continue;
        total++;
        keys.add(String(a.json.fid).split(",")[1]!.slice(0, -8));
      }
      await masters[leader]!.kill9();
      await agreedLeader(live.filter((i) => i !== leader));
      masters[leader] = startMaster(leader);
      await waitHttpOk(`http://127.0.0.1:${masterPorts[leader]}/healthz`, masters[leader]);
    }
    expect(total).toBeGreaterThan(800);
    expect(keys.size).toBe(total);
  });

  it("every acknowledged upload reads back intact", async () => {
    expect(acknowledged.length).toBeGreaterThan(5);
    for (const a of acknowledged) {
      const r = await request(`http://${a.fileUrl}`);
      expect(r.statusCode).toBe(200);
      expect(Buffer.from(await r.body.arrayBuffer()).equals(a.content)).toBe(true);
    }
  });
});
