// Online membership with real processes on loopback: the seed's chained -peers start, shell
// changes (transfer, removing the leader, a refused quorum loss), a far-behind learner caught up by
// snapshot, and 1 -> 3 -> 5 masters, a rolling restart of all five and 5 -> 3 under a continuous
// writer that must see no failed write and lose nothing.
import { spawn } from "node:child_process";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ContinuousWriter } from "../../src/benchmark/continuous-writer.js";
import { Seaweed } from "../../src/gen/master_pb.js";
import { createClient } from "../../src/grpc/adapter.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPairs, getJson, PROCESS_WAIT, WeedProcess } from "./harness.js";

const procs: WeedProcess[] = [];
const dirs: TempDir[] = [];
const stopped: number[] = [];

afterEach(async (ctx) => {
  // A failure caused by a process that died is explained by its last words.
  if (ctx.task.result?.state === "fail") {
    for (const p of procs) if (p.exited) console.error(`exited: weed-ts ${p.args.join(" ")}\n${p.logs().slice(-4000)}`);
  }
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // already gone
    }
  }
  await Promise.all(procs.splice(0).map((p) => p.kill9()));
});

afterAll(async () => {
  await Promise.all(dirs.splice(0).map((d) => d.remove()));
});

interface Member {
  id: string;
  suffrage: "voter" | "learner";
  match: number | null;
}
interface RaftStatus {
  id: string;
  role: string;
  leader: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  snapshotsInstalled: number;
  members: Member[];
  clusterId: string;
}

class Cluster {
  readonly masters = new Map<string, { port: number; proc: WeedProcess | null; args: string[] }>();

  constructor(readonly root: string) {}

  id(port: number): string {
    return `127.0.0.1:${port}`;
  }

  start(port: number, peers: string, extra: string[] = []): WeedProcess {
    const args = [
      "master",
      `-mdir=${this.root}/m${port}`,
      "-ip=127.0.0.1",
      `-port=${port}`,
      ...(peers === "" ? [] : [`-peers=${peers}`]),
      "-logLevel=warn",
      ...extra,
    ];
    const proc = new WeedProcess(args);
    procs.push(proc);
    this.masters.set(this.id(port), { port, proc, args });
    return proc;
  }

  /**
   * SIGTERM, wait for the exit, start again with the same flags, and wait until the new process
   * answers and has caught up with what the leader had committed (the leader's record of the old
   * process's progress says nothing about the new one).
   */
  async restart(id: string): Promise<void> {
    const m = this.masters.get(id)!;
    await m.proc?.stop();
    m.proc = new WeedProcess(m.args);
    procs.push(m.proc);
    await waitFor(
      async () => {
        const own = await this.raft(id);
        if (own.leader === null) return false;
        const l = await this.raft(own.leader);
        return own.applied >= l.commit - 1;
      },
      { ...PROCESS_WAIT, what: `${id} back and caught up` },
    );
  }

  async stop(id: string): Promise<void> {
    const m = this.masters.get(id)!;
    await m.proc?.stop();
    m.proc = null;
  }

  async raft(id: string): Promise<RaftStatus> {
    const r = await getJson(`http://${id}/cluster/raft`, { headersTimeout: 2000, bodyTimeout: 2000 });
    if (r.status !== 200) throw new Error(`${id}/cluster/raft answered ${r.status}`);
    return r.json as RaftStatus;
  }

  /** The leader's status, once some running master knows a leader that answers as one. */
  async leader(): Promise<RaftStatus> {
    return eventually(
      async () => {
        for (const [id, m] of this.masters) {
          if (m.proc === null) continue;
          const s = await this.raft(id).catch(() => undefined);
          if (s?.leader == null) continue;
          const l = await this.raft(s.leader).catch(() => undefined);
          if (l?.role === "leader") return l;
        }
        throw new Error("no running master knows a leader that answers as one");
      },
      { ...PROCESS_WAIT, what: "a leader" },
    );
  }

  /** Waits until the leader lists exactly `voters` and each has caught up to its commit. */
  async settled(voters: string[], timeoutMs = 20_000): Promise<RaftStatus> {
    return eventually(
      async () => {
        const l = await this.leader();
        const have = l.members
          .filter((m) => m.suffrage === "voter")
          .map((m) => m.id)
          .sort();
        if (
          JSON.stringify(have) !== JSON.stringify([...voters].sort()) ||
          l.members.some((m) => m.suffrage === "learner")
        )
          throw new Error(`members: ${JSON.stringify(l.members)}`);
        const behind = l.members.filter((m) => m.id !== l.id && (m.match ?? 0) < l.commit);
        if (behind.length > 0) throw new Error(`behind commit ${l.commit}: ${behind.map((m) => m.id).join(",")}`);
        return l;
      },
      { ...PROCESS_WAIT, timeoutMs, what: `voters ${voters.join(",")}` },
    );
  }
}

function shell(master: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "shell", `-master=${master}`, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/**
 * POST /cluster/raft/remove as a careful client does it: a 503/504 means "outcome unknown" (the
 * leader changed under the change), so it asks again, and "not a member" on a retry means done.
 */
async function removeMember(master: string, id: string): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const r = await getJson(`http://${master}/cluster/raft/remove?id=${id}`, {
      method: "POST",
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    if (r.status === 200 || (attempt > 1 && r.status === 404)) return;
    if (r.status !== 503 && r.status !== 504) throw new Error(`remove ${id}: ${r.status} ${JSON.stringify(r.json)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`remove ${id}: no answer but "outcome unknown" in 5 attempts`);
}

describe("online membership", () => {
  it("chained -peers start, then a transfer, a refused quorum loss, removing the leader and re-adding it", async () => {
    const tmp = await tempDir("weed-ts-membership-");
    dirs.push(tmp);
    const root = tmp.dir;
    const c = new Cluster(root);
    const [pa, pb, pc] = (await freePortPairs(3)) as [number, number, number];
    const [a, b, cc] = [c.id(pa), c.id(pb), c.id(pc)];
    c.start(pa, "");
    await c.settled([a]);
    c.start(pb, `localhost:${pa}`);
    await c.settled([a, b]);
    // Through a follower: it passes the request on to the leader.
    c.start(pc, `localhost:${pb}`);
    const three = await c.settled([a, b, cc]);
    expect(three.id).toBe(a);
    for (const id of [b, cc]) expect((await c.raft(id)).members.map((m) => m.id).sort()).toEqual([a, b, cc].sort());

    // A joined master restarts from its own state: the -peers it was started with is not used again.
    await c.restart(cc);
    await c.settled([a, b, cc]);

    let r = await shell(b, "cluster.raft.transferLeader", `-id=${cc}`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`leader ${cc}`);
    expect((await c.leader()).id).toBe(cc);

    // With b hung, removing a would leave {b, c} with only c reachable: refused, nothing changes.
    const hung = c.masters.get(b)!.proc!.pid;
    process.kill(hung, "SIGSTOP");
    stopped.push(hung);
    await waitFor(
      async () => {
        const l = await c.leader();
        const m = (await getJson(`http://${l.id}/cluster/raft`)).json.members.find((x: { id: string }) => x.id === b);
        return m.lastHeardMs === null || m.lastHeardMs > 1000;
      },
      { ...PROCESS_WAIT, what: "the leader to stop hearing b" },
    );
    r = await shell(a, "cluster.raft.remove", `-id=${a}`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/would lose quorum/);
    expect(r.err).toContain(b);
    process.kill(hung, "SIGCONT");
    stopped.splice(stopped.indexOf(hung), 1);
    await c.settled([a, b, cc]);

    // Removing the leader: it hands leadership over first, then the new leader removes it.
    r = await shell(a, "cluster.raft.remove", `-id=${cc}`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: 2 voters/);
    const two = await c.settled([a, b]);
    expect(two.id).not.toBe(cc);
    const removed = await c.raft(cc);
    expect(removed.role).not.toBe("leader");

    // A master started on its own runs a cluster of its own: adding it would mix two histories.
    const [px] = (await freePortPairs(1)) as [number];
    c.start(px, "");
    await waitFor(async () => (await c.raft(c.id(px))).clusterId !== "", { ...PROCESS_WAIT, what: "the lone master" });
    r = await shell(b, "cluster.raft.add", `-id=${c.id(px)}`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/holds the state of another cluster/);
    await c.stop(c.id(px));

    // Bad input is named.
    r = await shell(a, "cluster.raft.add");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/-id is required/);
    r = await shell(a, "cluster.raft.remove", "-id=nohostport");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/invalid server address/);

    // The removed master comes back: restarted, it is not a voter by its own log, so it asks again.
    await c.restart(cc);
    const back = await c.settled([a, b, cc]);

    // SeaweedFS's gRPC names for the same operations, asked of a follower.
    const [asked, target] = [a, b, cc].filter((id) => id !== back.id) as [string, string];
    const grpc = createClient(Seaweed, `127.0.0.1:${c.masters.get(asked)!.port + 10000}`);
    try {
      const list = await grpc.raftListClusterServers({}, { timeoutMs: 5000 });
      expect(list.clusterServers.map((x) => x.id).sort()).toEqual([a, b, cc].sort());
      expect(list.clusterServers.filter((x) => x.isLeader).map((x) => x.id)).toEqual([back.id]);
      const t = await grpc.raftLeadershipTransfer({ targetId: target }, { timeoutMs: 20_000 });
      expect(t).toMatchObject({ previousLeader: back.id, newLeader: target });
    } finally {
      grpc.close();
    }
    expect((await c.leader()).id).toBe(target);
  }, 120_000);

  it("a learner far behind catches up by snapshot", async () => {
    const tmp = await tempDir("weed-ts-membership-");
    dirs.push(tmp);
    const root = tmp.dir;
    const c = new Cluster(root);
    const [pa, pb, pv] = (await freePortPairs(3)) as [number, number, number];
    const [a, b] = [c.id(pa), c.id(pb)];
    c.start(pa, "", ["-raft.snapshotThreshold=4"]);
    await c.settled([a]);
    const vs = new WeedProcess([
      "volume",
      `-dir=${root}/v`,
      "-ip=127.0.0.1",
      `-port=${pv}`,
      `-mserver=${a},${b}`,
      "-max=20",
      "-logLevel=warn",
    ]);
    procs.push(vs);
    // Each grown volume is a Raft entry; a threshold of 4 compacts the log several times.
    await waitFor(async () => (await getJson(`http://${a}/dir/status`)).json.Topology?.Max > 0, {
      ...PROCESS_WAIT,
      what: "a volume server",
    });
    const grow = await getJson(`http://${a}/vol/grow?count=12`);
    expect(grow.status, JSON.stringify(grow.json)).toBe(200);
    const before = await c.raft(a);
    expect(before.snapshotIndex).toBeGreaterThan(4);

    c.start(pb, `127.0.0.1:${pa}`, ["-raft.snapshotThreshold=4"]);
    await c.settled([a, b]);
    const joined = await c.raft(b);
    expect(joined.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    const maxA = (await getJson(`http://${a}/cluster/status`)).json.MaxVolumeId;
    expect(maxA).toBeGreaterThanOrEqual(12);
    expect((await getJson(`http://${b}/cluster/status`)).json.MaxVolumeId).toBe(maxA);
  }, 90_000);

  it("1 -> 3 -> 5, all five restarted, 5 -> 3 (leader included) under a writer: no failed write, no loss", async () => {
    const tmp = await tempDir("weed-ts-membership-");
    dirs.push(tmp);
    const root = tmp.dir;
    const c = new Cluster(root);
    const all = await freePortPairs(6);
    const masterPorts = all.slice(0, 5);
    const ids = masterPorts.map((p) => c.id(p));
    const pv = all[5]!;
    c.start(masterPorts[0]!, "");
    await c.settled([ids[0]!]);
    const vs = new WeedProcess([
      "volume",
      `-dir=${root}/v`,
      "-ip=127.0.0.1",
      `-port=${pv}`,
      `-mserver=${ids.join(",")}`,
      "-max=20",
      "-logLevel=warn",
    ]);
    procs.push(vs);
    await waitFor(async () => (await getJson(`http://${ids[0]}/dir/assign`)).status === 200, {
      ...PROCESS_WAIT,
      what: "a first assign",
    });

    const writer = new ContinuousWriter({ masters: ids, payloadBytes: 512, concurrency: 2 });
    writer.start();
    try {
      for (let i = 1; i < 5; i++) {
        writer.mark(`add ${ids[i]}`);
        c.start(masterPorts[i]!, ids[i - 1]!);
        await c.settled(ids.slice(0, i + 1));
      }
      for (const id of ids) {
        writer.mark(`restart ${id}`);
        await c.restart(id);
        await c.settled(ids);
      }
      // Shrink by removing the leader and one follower, through whichever master is asked.
      const leader = (await c.leader()).id;
      const follower = ids.find((id) => id !== leader)!;
      for (const gone of [leader, follower]) {
        writer.mark(`remove ${gone}`);
        const asked = ids.find((id) => id !== leader && id !== follower)!;
        await removeMember(asked, gone);
        await c.stop(gone);
      }
      const last = await c.settled(ids.filter((id) => id !== leader && id !== follower));
      // The volume server followed every change of leader and reports to the last one.
      await waitFor(async () => (await getJson(`http://${last.id}/dir/status`)).json.Topology?.Max > 0, {
        ...PROCESS_WAIT,
        what: "the volume server at the last leader",
      });
      writer.mark("after");
      // A window of writes to the three that are left: they must not fail either.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await writer.stop();
    }
    const report = writer.report();
    const failures = report.steps.filter((s) => s.failed > 0).map((s) => `${s.step}: ${JSON.stringify(s.errors)}`);
    expect(failures).toEqual([]);
    expect(report.totals.acked).toBeGreaterThan(50);
    const v = await writer.verify();
    expect(v.errors).toEqual([]);
    expect(v.lost).toBe(0);
    expect(v.wrong).toBe(0);
    expect(v.checked).toBe(report.totals.acked - report.notRemembered);
  }, 180_000);
});
