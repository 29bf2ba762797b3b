// An in-process cluster of RaftRuntimes on loopback gRPC with real LevelDB in temp dirs. Ids are
// symbolic ("n1"); each node binds port 0 and the shared resolver maps ids to bound addresses.
import { RaftRuntime, type RaftRuntimeOptions } from "../../../src/raft/runtime/runtime.js";
import { KvStateMachine, encodePut, type KvResult } from "../../../src/raft/runtime/kv-example/kv-state-machine.js";
import { eventually, tempDir, waitFor, type TempDir } from "../../helpers.js";

export interface TestNode {
  id: string;
  rt: RaftRuntime<KvResult>;
  sm: KvStateMachine;
  dir: string;
}

/**
 * Fast timing for tests: a 20 ms tick, elections after 200-400 ms. Three runtimes share one
 * process: with a 10 ms tick, a 100 ms stall of a loaded machine (CI at load 10+) made a leader
 * step down (CheckQuorum) in the middle of a test.
 */
export const FAST = { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 } as const;

export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  private readonly addrs = new Map<string, string>();
  private readonly dirs = new Map<string, string>();
  private root: TempDir | undefined;

  constructor(private readonly extra: Partial<RaftRuntimeOptions<KvResult>> = {}) {}

  static async start(ids: string[], extra: Partial<RaftRuntimeOptions<KvResult>> = {}): Promise<TestCluster> {
    const c = new TestCluster(extra);
    c.root = await tempDir("raft-cluster-");
    await Promise.all(ids.map((id) => c.startNode(id, { bootstrap: ids })));
    return c;
  }

  /** Start (or restart, same dir and port) a node. Without bootstrap it waits to be added. */
  async startNode(id: string, opts: { bootstrap?: string[] } = {}): Promise<TestNode> {
    this.root ??= await tempDir("raft-cluster-");
    const dir = this.dirs.get(id) ?? `${this.root.dir}/${id}`;
    this.dirs.set(id, dir);
    const sm = new KvStateMachine();
    const prev = this.addrs.get(id);
    const rt = new RaftRuntime<KvResult>({
      ...FAST,
      ...this.extra,
      id,
      dir,
      stateMachine: sm,
      ...(opts.bootstrap !== undefined ? { bootstrap: opts.bootstrap } : {}),
      listenHost: "127.0.0.1",
      listenPort: prev === undefined ? 0 : Number(prev.split(":")[1]),
      resolve: (peer) => {
        const a = this.addrs.get(peer);
        if (a === undefined) throw new Error(`no address for ${peer}`);
        return a;
      },
    });
    await rt.start();
    this.addrs.set(id, `127.0.0.1:${rt.port}`);
    const node = { id, rt, sm, dir };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  async stopNode(id: string): Promise<void> {
    const n = this.nodes.get(id);
    if (n === undefined) return;
    this.nodes.delete(id);
    await n.rt.close();
  }

  /** The leader every running node agrees on (and that believes it leads). */
  async leader(timeoutMs = 10_000): Promise<TestNode> {
    return eventually(
      () => {
        const running = [...this.nodes.values()];
        const leaders = running.filter((n) => n.rt.isLeader());
        if (leaders.length !== 1) throw new Error(`${leaders.length} nodes lead`);
        const l = leaders[0] as TestNode;
        if (!running.every((n) => n.rt.currentLeader() === l.id)) throw new Error(`not every node follows ${l.id}`);
        return l;
      },
      { timeoutMs, what: "a leader" },
    );
  }

  followers(leader: TestNode): TestNode[] {
    return [...this.nodes.values()].filter((n) => n !== leader);
  }

  async put(key: string, value: string): Promise<KvResult> {
    const l = await this.leader();
    return l.rt.propose(encodePut(key, Buffer.from(value)));
  }

  /** Wait until every running node has applied at least `index`. */
  async allApplied(index: number): Promise<void> {
    await waitFor(() => [...this.nodes.values()].every((n) => n.rt.status().applied >= index), {
      what: `all nodes applied ${index}`,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.rt.close()));
    this.nodes.clear();
    await this.root?.remove();
  }
}

export function text(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v).toString();
}
