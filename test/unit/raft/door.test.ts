// The Raft transport's door (src/raft/runtime/door.ts): a stream of another cluster, or of a
// sender that is not a member, is refused with PERMISSION_DENIED before any payload is decoded and
// without learning the node's id; a member of the same cluster (or one that has not learned the
// id yet) is served; a brand-new learner with no cluster id and no members hears its leader.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Raft } from "../../../src/gen/raft_pb.js";
import { checkDoor, doorMetadata, LogOncePer, remoteHost } from "../../../src/raft/runtime/door.js";
import { encodePut, KvStateMachine, type KvResult } from "../../../src/raft/runtime/kv-example/kv-state-machine.js";
import { runtimeLimits } from "../../../src/raft/runtime/limits.js";
import { silentLogger, type RuntimeLogger } from "../../../src/raft/runtime/logger.js";
import { RaftRuntime } from "../../../src/raft/runtime/runtime.js";
import { GrpcTransport } from "../../../src/raft/runtime/transport.js";
import { encodeBatchWire } from "../../../src/raft/runtime/wire-codec.js";
import type { Message } from "../../../src/raft/types.js";
import { tempDir, waitFor, type TempDir } from "../../helpers.js";

const SEND_PATH = `/${Raft.typeName}/${Raft.method.send.name}`;

const hb = (from: string, to: string, commit: number): Message => ({
  type: "heartbeat",
  from,
  to,
  term: 1,
  commit,
  context: null,
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("checkDoor", () => {
  const md = (from: string | null, cluster: string | null): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (from !== null) m.set("x-raft-from", from);
    if (cluster !== null) m.set("x-raft-cluster-id", cluster);
    return m;
  };
  const members = new Set(["a", "b"]);
  const cfg = { clusterId: () => "X", admit: (id: string) => members.has(id) };

  it("serves a member of this cluster, and a member that has not learned the id yet", () => {
    expect(checkDoor(md("a", "X"), cfg)).toEqual({ ok: true, from: "a" });
    expect(checkDoor(md("b", null), cfg)).toEqual({ ok: true, from: "b" });
    expect(checkDoor(doorMetadata("a", "X"), cfg)).toEqual({ ok: true, from: "a" });
  });

  it("refuses another cluster (even a member's name), a stranger, and a nameless stream", () => {
    for (const [from, cluster] of [
      ["a", "Y"],
      ["z", "X"],
      ["z", null],
      [null, "X"],
      [null, null],
    ] as const) {
      const v = checkDoor(md(from, cluster), cfg);
      expect(v.ok, `${from} ${cluster}`).toBe(false);
      if (!v.ok) expect(v.code).toBe(grpc.status.PERMISSION_DENIED);
    }
  });

  it("lets in any cluster while this node has no id of its own yet", () => {
    expect(checkDoor(md("a", "Y"), { clusterId: () => "", admit: () => true }).ok).toBe(true);
    expect(checkDoor(md("a", "Y"), {}).ok).toBe(true);
  });
});

describe("LogOncePer", () => {
  it("says yes once per key per interval and keeps at most `max` keys", () => {
    let now = 0;
    const l = new LogOncePer(1000, 3, () => now);
    expect(l.shouldLog("h1")).toBe(true);
    expect(l.shouldLog("h1")).toBe(false);
    now = 999;
    expect(l.shouldLog("h1")).toBe(false);
    now = 1000;
    expect(l.shouldLog("h1")).toBe(true);
    for (let i = 0; i < 100; i++) l.shouldLog(`flood-${i}`);
    expect(l.size).toBe(3);
  });

  it("keys by host, not by source port", () => {
    expect(remoteHost("ipv4:127.0.0.1:5555")).toBe("127.0.0.1");
    expect(remoteHost("ipv6:[::1]:5555")).toBe("::1");
  });
});

interface Warn {
  obj: unknown;
  msg: string;
}

function recordingLogger(warns: Warn[]): RuntimeLogger {
  return { ...silentLogger, warn: (obj: unknown, msg: string) => warns.push({ obj, msg }) } as RuntimeLogger;
}

async function transport(
  id: string,
  door: { clusterId?: () => string; admit?: (from: string) => boolean },
  addrs: Map<string, string>,
  warns: Warn[] = [],
): Promise<{ t: GrpcTransport; got: Message[] }> {
  const got: Message[] = [];
  const t = new GrpcTransport(
    {
      id,
      listenHost: "127.0.0.1",
      listenPort: 0,
      resolve: (peer) => addrs.get(peer) ?? "127.0.0.1:1",
      limits: { ...runtimeLimits },
      log: recordingLogger(warns),
      ...door,
    },
    { onMessage: (m) => got.push(m), onUnreachable: () => undefined, onPeerLost: () => undefined },
  );
  addrs.set(id, `127.0.0.1:${await t.start()}`);
  cleanups.push(() => t.close());
  return { t, got };
}

/** Opens raft_pb.Raft/Send as a stranger would: raw bytes, any metadata; what came back. */
function strangerStream(
  address: string,
  md: grpc.Metadata,
  payload: Buffer,
): { answers: Buffer[]; cancel: () => void; done: Promise<{ answers: Buffer[]; status: grpc.StatusObject }> } {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const call = client.makeBidiStreamRequest(
    SEND_PATH,
    (b: Buffer) => b,
    (b: Buffer) => b,
    md,
  );
  const answers: Buffer[] = [];
  call.on("data", (b: Buffer) => answers.push(b));
  call.on("error", () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.write(payload);
  const timer = setTimeout(() => call.cancel(), 5_000);
  const done = status.then((s) => {
    clearTimeout(timer);
    return { answers, status: s };
  });
  return { answers, cancel: () => call.cancel(), done };
}

describe("GrpcTransport's door", () => {
  it("refuses a stranger and another cluster before decoding, without telling its id", async () => {
    const addrs = new Map<string, string>();
    const warns: Warn[] = [];
    const a = await transport("node-a", { clusterId: () => "X", admit: (f) => f === "node-b" }, addrs, warns);
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]); // undecodable if it were decoded
    const attempts = [
      new grpc.Metadata(), // nothing said
      doorMetadata("stranger:1", ""), // not a member, no cluster id
      doorMetadata("stranger:1", "X"), // not a member
      doorMetadata("node-b", "Y"), // a member's name, another cluster
    ];
    for (const md of attempts) {
      const r = await strangerStream(addrs.get("node-a")!, md, garbage).done;
      expect(r.status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(r.answers).toEqual([]);
      expect(r.status.details).not.toContain("node-a");
    }
    expect(a.t.stats.refusedStreams).toBe(4);
    expect(a.t.stats.receivedBatches).toBe(0); // no byte of payload reached the decoder
    expect(a.t.stats.rejectedMessages).toBe(0);
    // Four refusals from one host: one log line.
    expect(warns.filter((w) => w.msg.includes("refused a stream")).length).toBe(1);
  });

  it("serves a member of its cluster, and drops a message in another sender's name", async () => {
    const addrs = new Map<string, string>();
    const a = await transport("node-a", { clusterId: () => "X", admit: (f) => f === "node-b" }, addrs);
    const b = await transport("node-b", { clusterId: () => "X" }, addrs);
    b.t.send([hb("node-b", "node-a", 1)]);
    await waitFor(() => a.got.length === 1, { what: "b's heartbeat at a" });
    // A member's stream carrying a message that claims another sender: not stepped.
    const spoof = strangerStream(
      addrs.get("node-a")!,
      doorMetadata("node-b", "X"),
      Buffer.from(encodeBatchWire([hb("node-c", "node-a", 2)])),
    );
    await waitFor(() => a.t.stats.rejectedMessages === 1, { what: "spoofed message rejected" });
    expect(a.got.length).toBe(1);
    await waitFor(() => spoof.answers.length === 1, { what: "admitted: the stream is answered with a's id" });
    spoof.cancel();
    await spoof.done;
  });

  it("a wrong-cluster sender is refused and says so once in its own log", async () => {
    const addrs = new Map<string, string>();
    const a = await transport("node-a", { clusterId: () => "X", admit: () => true }, addrs);
    const warnsB: Warn[] = [];
    const b = await transport("node-b", { clusterId: () => "Y" }, addrs, warnsB);
    for (let i = 1; i <= 20; i++) {
      b.t.send([hb("node-b", "node-a", i)]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => warnsB.some((w) => w.msg.includes("refused our stream")), { what: "b's warning" });
    expect(a.got).toEqual([]);
    expect(a.t.stats.refusedStreams).toBeGreaterThan(0);
    expect(warnsB.filter((w) => w.msg.includes("refused our stream")).length).toBe(1);
  });
});

describe("RaftRuntime with cluster ids", () => {
  const FAST = { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 } as const; // as ../raft-runtime/cluster.ts

  async function group(): Promise<{
    start: (id: string, clusterId: () => string, bootstrap?: string[]) => Promise<RaftRuntime<KvResult>>;
    sms: Map<string, KvStateMachine>;
  }> {
    const root: TempDir = await tempDir("raft-door-");
    cleanups.push(() => root.remove());
    const addrs = new Map<string, string>();
    const sms = new Map<string, KvStateMachine>();
    const start = async (id: string, clusterId: () => string, bootstrap?: string[]): Promise<RaftRuntime<KvResult>> => {
      const sm = new KvStateMachine();
      sms.set(id, sm);
      const rt = new RaftRuntime<KvResult>({
        ...FAST,
        id,
        dir: `${root.dir}/${id}`,
        stateMachine: sm,
        clusterId,
        ...(bootstrap === undefined ? {} : { bootstrap }),
        listenHost: "127.0.0.1",
        listenPort: 0,
        resolve: (peer) => addrs.get(peer) ?? "127.0.0.1:1",
      });
      await rt.start();
      addrs.set(id, `127.0.0.1:${rt.port}`);
      cleanups.push(() => rt.close());
      return rt;
    };
    return { start, sms };
  }

  it("a brand-new learner with no cluster id and no members hears its leader and catches up", async () => {
    const g = await group();
    const voters = ["n1", "n2", "n3"];
    const rts = await Promise.all(voters.map((id) => g.start(id, () => "X", voters)));
    await waitFor(() => rts.some((r) => r.isLeader()), { what: "a leader" });
    const leader = rts.find((r) => r.isLeader())!;
    for (let i = 0; i < 5; i++) await leader.propose(encodePut(`k${i}`, Buffer.from(String(i))));
    let learned = "";
    await g.start("n4", () => learned); // empty store, no id yet
    await leader.addLearner("n4");
    await waitFor(() => g.sms.get("n4")?.get("k4") !== undefined, { what: "n4 caught up" });
    learned = "X"; // as a master learns it from the applied log
    await leader.promote("n4");
    const r = await leader.propose(encodePut("after", Buffer.from("v")));
    await waitFor(() => g.sms.get("n4")?.get("after") !== undefined, { what: "n4 follows as a voter" });
    expect(r.index).toBeGreaterThan(0);
  });

  it("a lone node of another cluster cannot disturb the group", async () => {
    const g = await group();
    const voters = ["n1", "n2", "n3"];
    const rts = await Promise.all(voters.map((id) => g.start(id, () => "X", voters)));
    await waitFor(() => rts.some((r) => r.isLeader()), { what: "a leader" });
    const leader = rts.find((r) => r.isLeader())!;
    const term = leader.status().term;
    // A group of its own that believes n1..n3 are its peers (a copied mdir, a wrong -peers).
    const intruder = await g.start("n9", () => "Y", ["n9", "n1", "n2", "n3"]);
    await new Promise((r) => setTimeout(r, 1_000)); // many of its election timeouts
    expect(leader.isLeader()).toBe(true);
    expect(leader.status().term).toBe(term);
    expect(intruder.isLeader()).toBe(false);
    const refused = rts.reduce((n, r) => n + (r.status().transport as { refusedStreams?: number }).refusedStreams!, 0);
    expect(refused).toBeGreaterThan(0);
  });
});
