// A small interpreter for Raft transcript scripts (after etcd's raft interaction tests): each
// command drives the cores by hand and returns the text it produced (Readies, deliveries, errors).
// Messages move only when a script says so, so every interleaving in a transcript is explicit.
//
// Commands (node names are short ids: "1", "2", ...):
//   add-nodes N [voters=1,2,3] [learners=4] [join=true] [prevote=false] [checkquorum=false]
//             [election=10] [heartbeat=1] [inflight=256] [max-per-append=4096] [max-bytes=N]
//   campaign I | propose I DATA | propose-conf-change I add-learner|promote|remove J
//   transfer-leadership I [J] | read-index I CTX | compact I INDEX
//   tick I [N] | tick-election I | tick-heartbeat I
//   process-ready [I...] | deliver-msgs [I...] | drop-msgs [I...] | stabilize [I...]
//   partition I [J...] (cut I.. off from everyone else) | heal
//   crash I (lose what was not persisted) | restart I | status I | log I
import { resolveConfig } from "../../../src/raft/config.js";
import { describeEntries, describeMessage, describeReady } from "../../../src/raft/describe.js";
import { RaftError } from "../../../src/raft/errors.js";
import { describeMembership } from "../../../src/raft/membership.js";
import { RaftNode, bootstrapState, joiningState } from "../../../src/raft/raft-node.js";
import { SimDisk } from "../../../src/raft/sim/disk.js";
import type { ConfChange, Membership, Message, NodeId, PersistedState } from "../../../src/raft/types.js";

interface EnvNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  raft: RaftNode | null;
  readonly options: Record<string, string>;
}

/** Stop a runaway `stabilize` (a livelock in the core would otherwise hang the test). */
const STABILIZE_ROUNDS_MAX = 100;

export class InteractionEnv {
  private readonly nodes = new Map<NodeId, EnvNode>();
  /** Messages sent and not yet delivered, in send order. */
  private inFlight: Message[] = [];
  private readonly isolated = new Set<NodeId>();

  run(command: string): string[] {
    const [name, ...args] = command.trim().split(/\s+/);
    try {
      return this.dispatch(name ?? "", args);
    } catch (err) {
      if (err instanceof RaftError) return [`error ${err.code}: ${err.message}`];
      throw err;
    }
  }

  private dispatch(name: string, args: string[]): string[] {
    const positional = args.filter((a) => !a.includes("="));
    const options = Object.fromEntries(
      args.filter((a) => a.includes("=")).map((a) => a.split("=", 2) as [string, string]),
    );
    switch (name) {
      case "add-nodes":
        return this.addNodes(Number(positional[0]), options);
      case "campaign":
        this.raft(positional[0]).campaign();
        return [];
      case "propose": {
        const pos = this.raft(positional[0]).propose(new TextEncoder().encode(positional.slice(1).join(" ")));
        return [`proposed at ${pos.index}@${pos.term}`];
      }
      case "propose-conf-change": {
        const change = { type: positional[1], node: positional[2] } as ConfChange;
        const pos = this.raft(positional[0]).proposeConfChange(change);
        return [`proposed at ${pos.index}@${pos.term}`];
      }
      case "transfer-leadership":
        return [`transferring to ${this.raft(positional[0]).transferLeadership(positional[1])}`];
      case "read-index":
        this.raft(positional[0]).readIndex(positional[1] ?? "");
        return [];
      case "compact": {
        const index = Number(positional[1]);
        const s = this.raft(positional[0]).compact(index, new TextEncoder().encode(`state@${index}`));
        this.node(positional[0]).disk.saveSnapshot(s);
        return [`compacted to ${s.meta.index}@${s.meta.term}`];
      }
      case "tick":
        return this.tick(positional[0], Number(positional[1] ?? 1));
      case "tick-election":
        return this.tick(positional[0], resolveConfig(this.configFor(this.node(positional[0]))).electionTicks);
      case "tick-heartbeat":
        return this.tick(positional[0], resolveConfig(this.configFor(this.node(positional[0]))).heartbeatTicks);
      case "process-ready":
        return this.processReady(this.targets(positional));
      case "deliver-msgs":
        return this.deliver(this.targets(positional));
      case "drop-msgs":
        return this.drop(this.targets(positional));
      case "stabilize":
        return this.stabilize(this.targets(positional));
      case "partition":
        for (const id of positional) this.isolated.add(id);
        return [`isolated (${[...this.isolated].join(",")})`];
      case "heal":
        this.isolated.clear();
        return ["healed"];
      case "crash":
        return this.crash(positional[0]);
      case "leader-lost":
        this.raft(positional[0]).reportLeaderLost(positional[1] ?? "");
        return [];
      case "restart":
        return this.restart(positional[0]);
      case "status":
        return this.status(positional[0]);
      case "log":
        return this.log(positional[0]);
      default:
        throw new Error(`unknown command ${JSON.stringify(name)}`);
    }
  }

  private node(id: string | undefined): EnvNode {
    const n = id === undefined ? undefined : this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${String(id)}`);
    return n;
  }

  private raft(id: string | undefined): RaftNode {
    const r = this.node(id).raft;
    if (r === null) throw new Error(`node ${String(id)} is down`);
    return r;
  }

  private targets(ids: string[]): EnvNode[] {
    return ids.length === 0 ? [...this.nodes.values()] : ids.map((id) => this.node(id));
  }

  private configFor(n: EnvNode) {
    const o = n.options;
    const bool = (k: string, d: boolean) => (o[k] === undefined ? d : o[k] === "true");
    const num = (k: string) => (o[k] === undefined ? undefined : Number(o[k]));
    const config: Parameters<typeof resolveConfig>[0] = {
      id: n.id,
      // Transcripts use the base election timeout exactly (randomized part = 0).
      random: () => 0,
      preVote: bool("prevote", true),
      checkQuorum: bool("checkquorum", true),
    };
    const e = num("election");
    const h = num("heartbeat");
    const inflight = num("inflight");
    const perAppend = num("max-per-append");
    const bytes = num("max-bytes");
    const lag = num("promote-lag");
    return {
      ...config,
      ...(e === undefined ? {} : { electionTicks: e }),
      ...(h === undefined ? {} : { heartbeatTicks: h }),
      ...(inflight === undefined ? {} : { inflightAppendsMax: inflight }),
      ...(perAppend === undefined ? {} : { entriesPerAppendMax: perAppend }),
      ...(bytes === undefined ? {} : { msgBytesMax: bytes }),
      ...(lag === undefined ? {} : { promoteLagEntriesMax: lag }),
    };
  }

  private addNodes(count: number, options: Record<string, string>): string[] {
    const first = this.nodes.size + 1;
    const ids = Array.from({ length: count }, (_, i) => String(first + i));
    const list = (k: string) =>
      options[k] === undefined || options[k] === "" ? undefined : (options[k] as string).split(",");
    const membership: Membership = { voters: list("voters") ?? ids, learners: list("learners") ?? [] };
    const out: string[] = [];
    for (const id of ids) {
      const state = options["join"] === "true" ? joiningState() : bootstrapState(membership);
      const node: EnvNode = { id, disk: new SimDisk(), raft: null, options };
      node.disk.initialize(state);
      node.raft = new RaftNode(this.configFor(node), node.disk.load() as PersistedState);
      this.nodes.set(id, node);
      const s = node.raft.status();
      out.push(`${id}: term=${s.term} commit=${s.commit} last=${s.lastIndex} ${describeMembership(s.membership)}`);
    }
    return out;
  }

  private tick(id: string | undefined, n: number): string[] {
    const r = this.raft(id);
    for (let i = 0; i < n; i++) r.tick();
    return [];
  }

  private processReady(targets: EnvNode[]): string[] {
    const out: string[] = [];
    for (const n of targets) {
      const r = n.raft;
      if (r === null || !r.hasReady()) continue;
      const rd = r.ready();
      out.push(`${n.id} ready:`, ...describeReady(rd));
      n.disk.persist(rd, true);
      for (const m of rd.messages) {
        // A partition drops messages when they are sent (and when they are delivered).
        if (this.crossesPartition(m)) out.push(`dropped ${describeMessage(m)}`);
        else this.inFlight.push(m);
      }
      r.advance(rd);
    }
    return out;
  }

  private deliver(targets: EnvNode[]): string[] {
    const ids = new Set(targets.map((t) => t.id));
    const out: string[] = [];
    const keep: Message[] = [];
    const now = this.inFlight;
    this.inFlight = [];
    for (const m of now) {
      if (!ids.has(m.to)) {
        keep.push(m);
        continue;
      }
      const to = this.nodes.get(m.to);
      if (this.crossesPartition(m) || to?.raft == null) {
        out.push(`dropped ${describeMessage(m)}`);
        continue;
      }
      out.push(`deliver ${describeMessage(m)}`);
      to.raft.step(m);
    }
    this.inFlight = [...keep, ...this.inFlight];
    return out;
  }

  private crossesPartition(m: Message): boolean {
    return this.isolated.has(m.from) !== this.isolated.has(m.to);
  }

  private drop(targets: EnvNode[]): string[] {
    const ids = new Set(targets.map((t) => t.id));
    const out: string[] = [];
    this.inFlight = this.inFlight.filter((m) => {
      if (!ids.has(m.to)) return true;
      out.push(`dropped ${describeMessage(m)}`);
      return false;
    });
    return out;
  }

  private stabilize(targets: EnvNode[]): string[] {
    const out: string[] = [];
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      const produced = [...this.processReady(targets), ...this.deliver(targets)];
      if (produced.length === 0) return out;
      out.push(...produced);
    }
    throw new Error(`stabilize did not settle in ${STABILIZE_ROUNDS_MAX} rounds`);
  }

  private crash(id: string | undefined): string[] {
    const n = this.node(id);
    n.raft = null;
    this.inFlight = this.inFlight.filter((m) => m.to !== n.id);
    return [`${n.id} crashed`];
  }

  private restart(id: string | undefined): string[] {
    const n = this.node(id);
    n.raft = new RaftNode(this.configFor(n), n.disk.load() as PersistedState);
    const s = n.raft.status();
    return [`${n.id} restarted: term=${s.term} vote=${s.vote ?? "-"} commit=${s.commit} last=${s.lastIndex}`];
  }

  private status(id: string | undefined): string[] {
    const s = this.raft(id).status();
    const election = `vote=${s.vote ?? "-"} leader=${s.leader ?? "-"}`;
    const log = `commit=${s.commit} applied=${s.applied} log=${s.firstIndex}..${s.lastIndex}`;
    const out = [
      `${s.id}: ${s.role} term=${s.term} ${election} ${log}`,
      `  ${describeMembership(s.membership)}${s.leadTransferee === null ? "" : ` transferring-to=${s.leadTransferee}`}`,
    ];
    for (const [peer, p] of s.progress ?? []) {
      const flags = `${p.learner ? " learner" : ""}${p.inflight > 0 ? ` inflight=${p.inflight}` : ""}`;
      out.push(`  ${peer}: ${p.state} match=${p.match} next=${p.next}${flags}`);
    }
    return out;
  }

  private log(id: string | undefined): string[] {
    const r = this.raft(id);
    const s = r.status();
    const snapshot = `${s.firstIndex - 1}@${r.termAt(s.firstIndex - 1) ?? "?"}`;
    return [`${s.id}: snapshot=${snapshot} ${describeEntries(r.entries(s.firstIndex, s.lastIndex + 1))}`];
  }
}
