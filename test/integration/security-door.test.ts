// The cluster's door (issue 12), replayed against a real 3-master cluster with a volume server, no
// security.toml: the door works without it.
// (a) a fake SendHeartbeat from a gRPC client: another cluster's id is refused whole; absurd volume
//     ids are left out, lookups do not return the attacker, MaxVolumeId is unchanged;
// (b) a stranger's Raft stream with a handcrafted vote (no metadata, a non-member, a member's name
//     with another cluster's id) is refused with PERMISSION_DENIED and no node id; leader and term
//     unchanged;
// (c) masters of other clusters pointed at this one (one bootstrapped with this cluster's masters
//     as its peers, one running a cluster of its own asking to join) cannot disturb it;
// (d) this cluster's volume server pointed at the other cluster's master is refused, logged on
//     both sides, and not registered there.
import * as grpc from "@grpc/grpc-js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatSchema, Seaweed, type HeartbeatResponse } from "../../src/gen/master_pb.js";
import { Raft } from "../../src/gen/raft_pb.js";
import { createClient } from "../../src/grpc/adapter.js";
import { heartbeatMemberVolumeIdAheadMax } from "../../src/master/limits.js";
import { doorMetadata } from "../../src/raft/runtime/door.js";
import { encodeBatchWire } from "../../src/raft/runtime/wire-codec.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

/** The default gRPC port is the HTTP port + 10000 (freePortPair keeps both free). */
const GRPC_OFFSET = 10_000;

let tmp: TempDir;
const ports: number[] = [];
const procs: WeedProcess[] = [];
let volumePort = 0;
let volume: WeedProcess;
let peers: string;

const id = (port: number): string => `127.0.0.1:${port}`;
const grpcOf = (port: number): string => `127.0.0.1:${port + GRPC_OFFSET}`;

function start(args: string[]): WeedProcess {
  const p = new WeedProcess([...args, "-logLevel=warn"]);
  procs.push(p);
  return p;
}

function startMaster(port: number, peerList: string, dir: string): WeedProcess {
  return start(["master", `-mdir=${tmp.dir}/${dir}`, "-ip=127.0.0.1", `-port=${port}`, `-peers=${peerList}`]);
}

function startVolume(master: string): WeedProcess {
  return start(["volume", `-dir=${tmp.dir}/v`, "-ip=127.0.0.1", `-port=${volumePort}`, `-mserver=${master}`, "-max=8"]);
}

interface RaftView {
  role: string;
  term: number;
  leader: string | null;
  clusterId: string;
  members: { id: string; suffrage: string }[];
  transport: { refusedStreams?: number };
}

async function raft(port: number): Promise<RaftView> {
  const r = await getJson(`http://${id(port)}/cluster/raft`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  if (r.status !== 200) throw new Error(`/cluster/raft of ${port}: ${r.status}`);
  return r.json as RaftView;
}

/** The leader all three agree on, with its term and the cluster id. */
async function agreed(): Promise<{ leader: string; term: number; clusterId: string }> {
  return eventually(
    async () => {
      const all = await Promise.all(ports.map(raft));
      const leaders = new Set(all.map((s) => s.leader));
      const terms = new Set(all.map((s) => s.term));
      const ids = new Set(all.map((s) => s.clusterId));
      if (
        leaders.size !== 1 ||
        terms.size !== 1 ||
        ids.size !== 1 ||
        all[0]!.leader === null ||
        all[0]!.clusterId === ""
      )
        throw new Error(`not settled: ${JSON.stringify(all.map((s) => [s.leader, s.term, s.clusterId]))}`);
      return { leader: all[0]!.leader!, term: all[0]!.term, clusterId: all[0]!.clusterId };
    },
    { ...PROCESS_WAIT, what: "one leader, one term, one cluster id on all three" },
  );
}

async function maxVolumeId(port: number): Promise<number> {
  return Number((await getJson(`http://${id(port)}/cluster/status`)).json.MaxVolumeId);
}

async function lookup(port: number, vid: number): Promise<string[]> {
  const r = await getJson(`http://${id(port)}/dir/lookup?volumeId=${vid}`);
  return ((r.json?.locations ?? []) as { url: string }[]).map((l) => l.url);
}

async function dataNodes(port: number): Promise<string[]> {
  const s = await getJson(`http://${id(port)}/dir/status`);
  const out: string[] = [];
  for (const dc of s.json?.Topology?.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) out.push(n.Url as string);
  return out;
}

function leaderPort(leader: string): number {
  return Number(leader.split(":")[1]);
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-door-");
  for (let i = 0; i < 3; i++) ports.push(await freePortPair());
  volumePort = await freePortPair();
  peers = ports.map(id).join(",");
  for (let i = 0; i < 3; i++) startMaster(ports[i]!, peers, `m${i}`);
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://${id(ports[i]!)}/healthz`, procs[i]);
  volume = startVolume(peers);
  const { leader } = await agreed();
  await waitFor(async () => (await dataNodes(leaderPort(leader))).length === 1, {
    ...PROCESS_WAIT,
    what: "the volume server registered",
  });
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  await tmp?.remove();
});

/** One raw heartbeat stream to the leader; the answers or the status it ended with. */
async function fakeHeartbeat(
  port: number,
  hb: MessageInitShape<typeof HeartbeatSchema>,
): Promise<{ answers: HeartbeatResponse[]; error: grpc.ServiceError | null; cancel: () => void }> {
  const client = createClient(Seaweed, grpcOf(port));
  const call = client.sendHeartbeat();
  const answers: HeartbeatResponse[] = [];
  let error: grpc.ServiceError | null = null;
  call.on("data", (r: HeartbeatResponse) => answers.push(r));
  call.on("error", (e: grpc.ServiceError) => (error = e));
  call.write(create(HeartbeatSchema, hb));
  await waitFor(() => answers.length > 0 || error !== null, { timeoutMs: 10_000, what: "an answer or a status" });
  return {
    answers,
    error,
    cancel: () => {
      call.cancel();
      client.close();
    },
  };
}

describe("the cluster's door", () => {
  it("(a) a fake heartbeat cannot claim absurd volumes, raise MaxVolumeId, or join from another cluster", async () => {
    const { leader, clusterId } = await agreed();
    const lp = leaderPort(leader);
    const before = await maxVolumeId(lp);
    expect(before).toBeLessThan(500 - 64);
    const far = before + heartbeatMemberVolumeIdAheadMax + 1;
    const attacker = { ip: "127.0.0.1", port: 1, maxVolumeCounts: { "": 8 } };

    const other = await fakeHeartbeat(lp, { ...attacker, clusterId: "not-this-cluster", volumes: [{ id: 3 }] });
    expect(other.error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    other.cancel();

    // The issue's attack: volume 500 from a server that names no cluster.
    const issue = await fakeHeartbeat(lp, { ...attacker, volumes: [{ id: 500 }] });
    expect(issue.error).toBeNull();
    // Even naming this cluster (the id is no secret), a volume far ahead is left out.
    const absurd = await fakeHeartbeat(lp, {
      ...attacker,
      port: 2,
      clusterId,
      volumes: [{ id: far }, { id: 4_000_000_000 }],
    });
    expect(absurd.error).toBeNull();
    // Several beats' worth of time: nothing of it is applied, nothing raises the maximum.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const vid of [500, far, 4_000_000_000]) expect(await lookup(lp, vid)).toEqual([]);
    for (const p of ports) expect(await maxVolumeId(p)).toBe(before);
    issue.cancel();
    absurd.cancel();
    const logs = procs.find((p) => p.args.includes(`-port=${lp}`))!.logs();
    expect(logs).toMatch(/heartbeat of another cluster refused/);
    expect(logs).toMatch(/beyond sane bounds/);
  });

  it("(b) a stranger's Raft stream is refused before decoding, without the node id; leader unchanged", async () => {
    const before = await agreed();
    const member = ports.map(id).find((m) => m !== before.leader)!;
    // A vote request with a huge term: stepped, it would depose the leader.
    const vote = Buffer.from(
      encodeBatchWire([
        {
          type: "vote",
          from: member,
          to: before.leader,
          term: before.term + 1000,
          lastIndex: 1_000_000,
          lastTerm: before.term + 999,
          transfer: true,
          commit: 0,
          commitTerm: 0,
        },
      ]),
    );
    const attempts: [string, grpc.Metadata][] = [
      ["no metadata", new grpc.Metadata()],
      ["a stranger without a cluster id", doorMetadata("127.0.0.1:1", "")],
      ["a stranger naming this cluster", doorMetadata("127.0.0.1:1", before.clusterId)],
      ["a member's name with another cluster's id", doorMetadata(member, "another-cluster")],
    ];
    for (const [what, md] of attempts) {
      const client = new grpc.Client(grpcOf(leaderPort(before.leader)), grpc.credentials.createInsecure());
      const call = client.makeBidiStreamRequest(
        `/${Raft.typeName}/${Raft.method.send.name}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        md,
      );
      const answers: Buffer[] = [];
      call.on("data", (b: Buffer) => answers.push(b));
      call.on("error", () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.write(vote);
      const timer = setTimeout(() => call.cancel(), 10_000);
      const s = await status;
      clearTimeout(timer);
      client.close();
      expect(s.code, what).toBe(grpc.status.PERMISSION_DENIED);
      expect(answers, what).toEqual([]);
      expect(s.details, what).not.toContain(String(leaderPort(before.leader)));
    }
    const after = await agreed();
    expect(after.leader).toBe(before.leader);
    expect(after.term).toBe(before.term);
    expect((await raft(leaderPort(before.leader))).transport.refusedStreams).toBeGreaterThanOrEqual(4);
  });

  it("(c) masters of other clusters pointed at this one cannot disturb it", async () => {
    const before = await agreed();
    const refusedOf = (): Promise<number[]> =>
      Promise.all(ports.map(async (p) => (await raft(p)).transport.refusedStreams ?? 0));
    const refusedBefore = await refusedOf();
    // X: a new master bootstrapped with this cluster's masters as its peers (a wrong -peers).
    const xPort = await freePortPair();
    const x = startMaster(xPort, [id(ports[0]!), id(ports[1]!), id(xPort)].join(","), "x");
    // Y: a master that ran a cluster of its own, then asks this cluster to take it in.
    const yPort = await freePortPair();
    const yAlone = startMaster(yPort, id(yPort), "y");
    await waitFor(async () => ((await raft(yPort).catch(() => null))?.clusterId ?? "") !== "", {
      ...PROCESS_WAIT,
      what: "Y's cluster id",
    });
    await yAlone.stop();
    // Not in its own -peers: it asks this cluster's masters to add it (its state is another cluster's).
    const y = startMaster(yPort, ports.map(id).join(","), "y");
    await waitHttpOk(`http://${id(yPort)}/healthz`, y);
    // Many election timeouts of X, several join attempts of Y.
    await waitFor(
      async () => {
        const refused = await refusedOf();
        // X names masters 0 and 1 as its peers: its pre-votes go there.
        return refused[0]! > refusedBefore[0]! && refused[1]! > refusedBefore[1]!;
      },
      { ...PROCESS_WAIT, what: "X's streams refused at the door" },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await agreed();
    expect(after).toEqual(before);
    for (const p of ports) {
      const members = (await raft(p)).members.map((m) => m.id).sort();
      expect(members).toEqual(ports.map(id).sort());
    }
    expect(x.exited, x.logs()).toBe(false);
    expect((await raft(xPort)).role).not.toBe("leader");
    expect(y.logs()).toMatch(/holds the state of another cluster/);
  });

  it("(d) this cluster's volume server pointed at another cluster's master is refused, on both sides", async () => {
    const { clusterId } = await agreed();
    expect(readFileSync(`${tmp.dir}/v/cluster.id`, "utf8").trim()).toBe(clusterId);
    const yPort = Number(
      procs
        .find((p) => !p.exited && p.args.includes(`-mdir=${tmp.dir}/y`))!
        .args.find((a) => a.startsWith("-port="))!
        .slice("-port=".length),
    );
    const y = await raft(yPort);
    expect(y.clusterId).not.toBe(clusterId);
    await volume.stop();
    volume = startVolume(id(yPort));
    const yProc = procs.find((p) => !p.exited && p.args.includes(`-mdir=${tmp.dir}/y`))!;
    await waitFor(() => /heartbeat of another cluster refused/.test(yProc.logs()), {
      ...PROCESS_WAIT,
      what: "Y's log names the refusal",
    });
    await waitFor(() => /FAILED_PRECONDITION/.test(volume.logs()), {
      ...PROCESS_WAIT,
      what: "the volume server's log names the refusal",
    });
    expect(await dataNodes(yPort)).toEqual([]);
    expect(readFileSync(`${tmp.dir}/v/cluster.id`, "utf8").trim()).toBe(clusterId);
  });
});
