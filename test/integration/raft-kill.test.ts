// Three Raft runtimes as separate processes (dist/raft/runtime/kv-example/kv-node.js: gRPC between
// them, LevelDB with fsync): kill -9 the leader under write load, check that a new leader commits
// within a bound, that the old leader rejoins as a follower, and that every acknowledged write is
// readable (linearizably, through ReadIndex) on every node afterwards. A write that failed or timed
// out has an unknown outcome: it may be present, but only with the value that was written.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePort, getJson } from "./harness.js";

const KV_NODE = resolve(import.meta.dirname, "../../dist/raft/runtime/kv-example/kv-node.js");
/** A new leader must commit within this long after kill -9 (default timeouts: ~0.3-0.6 s). */
const FAILOVER_BOUND_MS = 3_000;

class KvNode {
  child: ChildProcess | null = null;
  private exit: Promise<void> = Promise.resolve();
  readonly output: string[] = [];
  constructor(
    readonly id: string,
    readonly http: string,
    private readonly args: string[],
  ) {}

  start(): void {
    const child = spawn(process.execPath, [KV_NODE, ...this.args], { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (b: Buffer): void => {
      this.output.push(b.toString());
      if (this.output.length > 500) this.output.splice(0, 250);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.exit = new Promise((r) => child.once("exit", () => r()));
    this.child = child;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.alive) return;
    this.child!.kill(signal);
    await this.exit;
  }

  async status(): Promise<{
    role: string;
    term: number;
    leader: string | null;
    commit: number;
    members: Array<{ id: string; match: number | null }>;
  }> {
    const r = await getJson(`${this.http}/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return r.json;
  }
}

interface Cluster {
  nodes: KvNode[];
  tmp: TempDir;
}

let cluster: Cluster | null = null;

async function startCluster(): Promise<Cluster> {
  const tmp = await tempDir("raft-kill-");
  const raftPorts = [await freePort(), await freePort(), await freePort()];
  const httpPorts = [await freePort(), await freePort(), await freePort()];
  const peers = raftPorts.map((p) => `127.0.0.1:${p}`).join(",");
  const nodes = raftPorts.map((p, i) => {
    const id = `127.0.0.1:${p}`;
    const http = `127.0.0.1:${httpPorts[i]}`;
    return new KvNode(id, `http://${http}`, [
      "--id",
      id,
      "--peers",
      peers,
      "--dir",
      `${tmp.dir}/n${i + 1}`,
      "--http",
      http,
      "--log-level",
      "info",
    ]);
  });
  for (const n of nodes) n.start();
  cluster = { nodes, tmp };
  return cluster;
}

/** The leader every live node agrees on. */
async function agreedLeader(c: Cluster, timeoutMs = 10_000): Promise<KvNode> {
  return eventually(
    async () => {
      const live = c.nodes.filter((n) => n.alive);
      const ss = await Promise.all(live.map((n) => n.status()));
      const leaders = ss.filter((s) => s.role === "leader");
      if (leaders.length !== 1) throw new Error(`${leaders.length} nodes lead`);
      const id = (ss.find((s) => s.role === "leader") as { leader: string }).leader;
      const leader = c.nodes.find((n) => n.id === id);
      if (leader === undefined || !ss.every((s) => s.leader === id)) throw new Error(`not every node follows ${id}`);
      return leader;
    },
    { timeoutMs, intervalMs: 25, what: "an agreed leader" },
  );
}

type Outcome = "acked" | "unknown";

/** Writes unique keys, following the leader hint; records every key's outcome and value. */
class Writer {
  readonly outcomes = new Map<string, { value: string; outcome: Outcome }>();
  private stopped = false;
  private target: KvNode;
  constructor(
    private readonly c: Cluster,
    start: KvNode,
    private readonly prefix: string,
  ) {
    this.target = start;
  }

  private next = 0;

  /** Write `count` more keys with `concurrency` writers. */
  async run(concurrency: number, count: number): Promise<void> {
    const end = this.next + count;
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.next < end) {
        const i = this.next++;
        await this.write(`${this.prefix}-${i}`, `value-${this.prefix}-${i}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  stop(): void {
    this.stopped = true;
  }

  acked(): number {
    let n = 0;
    for (const o of this.outcomes.values()) if (o.outcome === "acked") n++;
    return n;
  }

  /** One key, retried on "not leader" / "dropped" (certainly not applied), at most 50 tries. */
  private async write(key: string, value: string): Promise<void> {
    this.outcomes.set(key, { value, outcome: "unknown" });
    for (let attempt = 0; attempt < 50 && !this.stopped; attempt++) {
      const node = this.target;
      try {
        const r = await getJson(`${node.http}/kv/${key}`, {
          method: "PUT",
          body: value,
          headersTimeout: 6_000,
          bodyTimeout: 6_000,
        });
        if (r.status === 200) {
          this.outcomes.set(key, { value, outcome: "acked" });
          return;
        }
        if (r.status === 504) return; // Outcome unknown: never retried (it may have committed).
        if (r.status === 421 && typeof r.json?.leader === "string") {
          this.target = this.c.nodes.find((n) => n.id === r.json.leader) ?? this.target;
        } else if (r.status === 421 || r.status === 503) {
          await new Promise((res) => setTimeout(res, 25));
        } else {
          throw new Error(`unexpected ${r.status} ${JSON.stringify(r.json)}`);
        }
      } catch (err) {
        if ((err as Error).message.startsWith("unexpected")) throw err;
        // Connection refused / reset: the node is down, the request may have reached it first.
        this.outcomes.set(key, { value, outcome: "unknown" });
        const live = this.c.nodes.filter((n) => n.alive && n !== node);
        this.target = live[attempt % Math.max(1, live.length)] ?? this.target;
        return;
      }
    }
  }
}

beforeAll(() => {
  if (!existsSync(KV_NODE)) throw new Error(`${KV_NODE} is missing: build first (npx tsc -p tsconfig.json)`);
});

afterEach(async () => {
  const c = cluster;
  cluster = null;
  if (c === null) return;
  for (const n of c.nodes) await n.kill("SIGKILL");
  await c.tmp.remove();
});

describe("raft kv-node processes", () => {
  it("survives kill -9 of the leader: a new one commits, the old one rejoins, no acked write is lost", async () => {
    const c = await startCluster();
    const first = await agreedLeader(c);

    // Acknowledged writes before the kill, sequential and concurrent.
    const before = new Writer(c, first, "before");
    await before.run(1, 50);
    await before.run(16, 300);
    expect([...before.outcomes.values()].filter((o) => o.outcome === "acked").length).toBe(350);

    // Keep writing through the kill.
    const during = new Writer(c, first, "during");
    const load = during.run(8, 100_000);
    await waitFor(() => during.acked() >= 20, { what: "writes acknowledged under load" });
    const killedAt = Date.now();
    await first.kill("SIGKILL");

    // A new leader commits a write within the bound.
    const survivors = c.nodes.filter((n) => n !== first);
    const probe = new Writer(c, survivors[0]!, "probe");
    await waitFor(
      async () => {
        await probe.run(1, 1);
        return probe.acked() > 0;
      },
      { timeoutMs: FAILOVER_BOUND_MS, intervalMs: 10, what: "a write committed by a new leader" },
    );
    const failoverMs = Date.now() - killedAt;
    const second = await agreedLeader(c);
    expect(second).not.toBe(first);
    expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS);

    // Restart the old leader: it rejoins as a follower and catches up.
    first.start();
    await waitFor(
      async () => {
        const [s, l] = await Promise.all([first.status(), second.status()]);
        const m = l.members.find((x) => x.id === first.id);
        return s.role === "follower" && s.leader === second.id && (m?.match ?? 0) >= l.commit;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: "the old leader back as a caught-up follower" },
    );
    // Writes that the rejoined follower must replicate too, before the check below reads from it.
    const ackedAtRejoin = during.acked();
    await waitFor(() => during.acked() >= ackedAtRejoin + 20, { what: "writes acknowledged after the rejoin" });
    during.stop();
    await load;

    // Every acknowledged write is readable, linearizably, on every node; an unknown one, if
    // present, holds exactly the value written.
    const all = [...before.outcomes, ...during.outcomes, ...probe.outcomes];
    const acked = all.filter(([, o]) => o.outcome === "acked");
    expect(acked.length).toBeGreaterThan(350);
    for (const node of c.nodes) {
      for (const [key, { value, outcome }] of all) {
        const r = await getJson(`${node.http}/kv/${key}`, { headersTimeout: 6_000, bodyTimeout: 6_000 });
        if (outcome === "acked") {
          expect(r.status, `${key} on ${node.id}`).toBe(200);
          expect(String(r.json)).toBe(value);
        } else if (r.status === 200) {
          expect(String(r.json)).toBe(value);
        } else {
          expect(r.status).toBe(404);
        }
      }
    }
    expect((await first.status()).role).toBe("follower");
  });

  it("SIGTERM on the leader hands leadership to a follower before exiting", async () => {
    const c = await startCluster();
    const first = await agreedLeader(c);
    const w = new Writer(c, first, "k");
    await w.run(4, 100);
    const t0 = Date.now();
    await first.kill("SIGTERM");
    expect(first.child?.exitCode).toBe(0);
    const next = await agreedLeader(c, 5_000);
    expect(next).not.toBe(first);
    // A hand-off does not wait for an election timeout.
    expect(Date.now() - t0).toBeLessThan(2_000);
    const r = await getJson(`${next.http}/kv/k-99`, { headersTimeout: 6_000, bodyTimeout: 6_000 });
    expect(r.status).toBe(200);
  });
});
