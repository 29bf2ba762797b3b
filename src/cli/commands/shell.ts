// `weed-ts shell -master=host:port [COMMAND [flags]]`: operator commands against a running
// cluster, over the masters' HTTP API. With no command it reads commands from standard input.
// Any master will do: followers pass membership changes on to the leader.
import { createInterface } from "node:readline";
import { request } from "undici";
import type { Command, CommandIo } from "../command.js";
import {
  bool,
  formatUsage,
  int,
  nonEmptyCheck,
  nonNegativeCheck,
  parseFlags,
  str,
  UsageError,
  type FlagSpec,
  type FlagValues,
} from "../flags.js";
import { checkDisk } from "../shell/check-disk.js";
import { readCluster } from "../shell/cluster-topology.js";
import { fixReplication } from "../shell/fix-replication.js";
import { formatVolumeList } from "../shell/volume-list.js";
import { deleteVolume, markVolume } from "../shell/volume-admin.js";
import { balanceVolumes } from "../shell/volume-balance.js";
import type { ShellContext } from "../shell/context.js";
import { describeSecurity, type SecuritySummary } from "../../common/security/summary.js";
import { securityFlag, securityFromFlags } from "../security-flags.js";
import { installProcessGrpcTls } from "../../grpc/tls.js";
import { adminKeyOf } from "../../common/security/admin-token.js";
import { installProcessAdminKey } from "../../grpc/admin-call.js";
import { httpOrigin } from "../../common/security/https.js";
import { adminPost } from "../shell/admin-http.js";
import { setVacuumEnabled, vacuumVolumes } from "../shell/vacuum.js";

/** One HTTP call of the shell; a master that does not answer in this long is reported down. */
const requestTimeoutMs = 3_000;
/** A membership change: the leader may wait for a new member to catch up (memberCatchUpTimeoutMs). */
const changeTimeoutMs = 40_000;
/** Commands read from standard input, at most (a script, not a session that never ends). */
const stdinCommandsMax = 10_000;
/** Lines an interactive session remembers for the arrow keys (readline's default is 30). */
const shellHistorySize = 1_000;

interface RaftMember {
  id: string;
  suffrage: "voter" | "learner";
  match: number | null;
  lastHeardMs?: number | null;
}
interface RaftStatus {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  members: RaftMember[];
}

async function getJson<T>(url: string): Promise<T> {
  const r = await request(url, { headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

function roleOf(m: RaftMember, leader: string | null): string {
  if (m.suffrage === "learner") return "learner";
  return m.id === leader ? "leader" : "follower";
}

async function clusterStatus(master: string, io: CommandIo): Promise<void> {
  const s = await getJson<RaftStatus>(`${httpOrigin(master)}/cluster/raft`);
  io.out.write(`current leader master: ${s.leader ?? "(none: an election is under way)"}\n`);
  io.out.write(`All masters: [${s.members.map((m) => `${m.id}(${roleOf(m, s.leader)})`).join(", ")}]\n`);
  const status = await getJson<{ Security?: SecuritySummary }>(`${httpOrigin(master)}/cluster/status`);
  if (status.Security !== undefined) io.out.write(`security: ${describeSecurity(status.Security)}\n`);
}

/** SeaweedFS's cluster.ps: the masters with their roles, then the volume servers with their slots. */
async function clusterPs(master: string, io: CommandIo): Promise<void> {
  const s = await getJson<RaftStatus>(`${httpOrigin(master)}/cluster/raft`);
  io.out.write(`* masters: ${s.members.length}, leader ${s.leader ?? "(none)"}\n`);
  for (const m of s.members) io.out.write(`  * ${m.id} ${roleOf(m, s.leader)}\n`);
  const c = await readCluster(master);
  io.out.write(`* volume servers: ${c.nodes.length}\n`);
  for (const n of c.nodes) {
    const where = `dataCenter=${n.dataCenter} rack=${n.rack}`;
    io.out.write(`  * ${n.url} ${where} volumes=${n.volumes.length}/${n.maxVolumes} grpc=${n.grpcAddress}\n`);
  }
}

async function raftPs(master: string, io: CommandIo): Promise<void> {
  const asked = await getJson<RaftStatus>(`${httpOrigin(master)}/cluster/raft`);
  // The leader's view has each member's replication (match) and when it last heard from it.
  const s =
    asked.leader === null || asked.leader === asked.id
      ? asked
      : await getJson<RaftStatus>(`${httpOrigin(asked.leader)}/cluster/raft`).catch(() => asked);
  io.out.write(`the raft cluster has ${s.members.length} servers, leader ${s.leader ?? "(none)"}\n`);
  const rows = await Promise.all(
    s.members.map(async (m) => {
      try {
        const own = await getJson<RaftStatus>(`${httpOrigin(m.id)}/cluster/raft`);
        const heard = m.lastHeardMs === undefined || m.lastHeardMs === null ? "" : ` heard=${m.lastHeardMs}ms`;
        const match = m.match === null ? "" : ` match=${m.match}`;
        const log = `commit=${own.commit} applied=${own.applied} last=${own.lastIndex}`;
        return `* ${m.id} ${own.role} term=${own.term} ${log}${match}${heard}`;
      } catch (err) {
        return `* ${m.id} ${roleOf(m, s.leader)} unreachable: ${(err as Error).message}`;
      }
    }),
  );
  io.out.write(rows.join("\n") + "\n");
}

interface ChangeAnswer {
  result: string;
  voters: string[];
  learners: string[];
  leader: string | null;
  warning?: string;
}

/** POST /cluster/raft/<op> (admin-http.ts: with the admin token when the shell has the key). */
async function changeMembership(
  ctx: ShellContext,
  op: "add" | "remove" | "transfer",
  id: string,
  io: CommandIo,
): Promise<void> {
  const query = id === "" ? "" : `?id=${encodeURIComponent(id)}`;
  const body = await adminPost<Partial<ChangeAnswer>>(ctx, `/cluster/raft/${op}${query}`, changeTimeoutMs);
  io.out.write(
    `${body.result ?? "done"}; leader ${body.leader ?? "(none)"}; voters [${(body.voters ?? []).join(", ")}]`,
  );
  io.out.write((body.learners ?? []).length > 0 ? `; learners [${(body.learners ?? []).join(", ")}]\n` : "\n");
  if (body.warning !== undefined) io.err.write(`warning: ${body.warning}\n`);
}

const idFlag = (required: boolean): FlagSpec => ({
  name: "id",
  type: "string",
  default: "",
  usage: required
    ? "the master's host:port, as the cluster names it"
    : "the master to lead (default: the most up-to-date follower)",
  ...(required ? { check: nonEmptyCheck } : {}),
});

interface ShellCommand {
  help: string;
  flags?: readonly FlagSpec[];
  /** Flags that must be given. */
  required?: readonly string[];
  run: (ctx: ShellContext, flags: FlagValues, io: CommandIo) => Promise<void>;
}

const SHELL_COMMANDS: Record<string, ShellCommand> = {
  "cluster.status": {
    help: "the leader and every master with its role",
    run: (c, _f, io) => clusterStatus(c.master, io),
  },
  "cluster.ps": {
    help: "the masters (role) and the volume servers (data center, rack, volumes/slots)",
    run: (c, _f, io) => clusterPs(c.master, io),
  },
  "cluster.raft.ps": {
    help: "the Raft members with role, term, commit and applied index",
    run: (c, _f, io) => raftPs(c.master, io),
  },
  "cluster.raft.add": {
    help: "-id=host:port  add a started master (learner, then voter once caught up)",
    flags: [idFlag(true)],
    required: ["id"],
    run: (c, f, io) => changeMembership(c, "add", str(f, "id"), io),
  },
  "cluster.raft.remove": {
    help: "-id=host:port  remove a master (the leader hands over first); refused if it would lose quorum",
    flags: [idFlag(true)],
    required: ["id"],
    run: (c, f, io) => changeMembership(c, "remove", str(f, "id"), io),
  },
  "cluster.raft.transferLeader": {
    help: "[-id=host:port]  hand leadership to that master, or to the most up-to-date one",
    flags: [idFlag(false)],
    run: (c, f, io) => changeMembership(c, "transfer", str(f, "id"), io),
  },
  "volume.list": {
    help: "data centers, racks, servers and their volumes (size, files, deleted, placement, under-replicated)",
    run: async (c, _f, io) => void io.out.write(formatVolumeList(await readCluster(c.master))),
  },
  "volume.mark": {
    help: "-volumeId=N -readonly|-writable [-node=host:port]  mark a volume's replicas (or the one on -node)",
    flags: [
      { name: "volumeId", type: "int", default: 0, usage: "the volume", check: nonNegativeCheck },
      { name: "readonly", type: "bool", default: false, usage: "refuse writes to it (reads go on)" },
      { name: "writable", type: "bool", default: false, usage: "take writes again" },
      { name: "node", type: "string", default: "", usage: "only the replica on this volume server (default all)" },
    ],
    required: ["volumeId"],
    run: async (c, f, io) => {
      if (bool(f, "readonly") === bool(f, "writable")) throw new UsageError("use exactly one of -readonly, -writable");
      const o = { volumeId: int(f, "volumeId"), readOnly: bool(f, "readonly"), node: str(f, "node") };
      if (!(await markVolume(c.master, o, io))) throw new Error("some replicas could not be marked (see above)");
    },
  },
  "volume.delete": {
    help: "-volumeId=N -node=host:port  delete the volume's replica on that volume server",
    flags: [
      { name: "volumeId", type: "int", default: 0, usage: "the volume", check: nonNegativeCheck },
      { name: "node", type: "string", default: "", usage: "the volume server host:port", check: nonEmptyCheck },
    ],
    required: ["volumeId", "node"],
    run: (c, f, io) => deleteVolume(c.master, int(f, "volumeId"), str(f, "node"), io),
  },
  "volume.balance": {
    help: "[-collection=name] [-apply]  move volumes to even out counts across servers (dry run unless -apply)",
    flags: [
      { name: "collection", type: "string", default: "", usage: "only count and move this collection (default all)" },
      { name: "apply", type: "bool", default: false, usage: "move volumes (default: only list the moves)" },
    ],
    run: async (c, f, io) => {
      const o = { collection: str(f, "collection"), apply: bool(f, "apply") };
      if (!(await balanceVolumes(c.master, o, io))) throw new Error("some volumes could not be moved (see above)");
    },
  },
  "volume.fix.replication": {
    help: "[-apply] [-collectionPattern=p]  copy missing replicas, trim extra ones (dry run unless -apply)",
    flags: [
      {
        name: "apply",
        type: "bool",
        default: false,
        usage: "copy and delete replicas (default: only list what it would do)",
      },
      {
        name: "collectionPattern",
        type: "string",
        default: "",
        usage: "only collections matching this pattern (* and ? wildcards; default all)",
      },
    ],
    run: async (c, f, io) => {
      const ok = await fixReplication(
        c.master,
        { apply: bool(f, "apply"), collectionPattern: str(f, "collectionPattern") },
        io,
      );
      if (!ok) throw new Error("some volumes could not be fixed (see above)");
    },
  },
  "volume.vacuum": {
    help: "[-garbageThreshold=0.3] [-collection=name] [-volumeId=N]  compact volumes with that share of deleted bytes",
    flags: [
      {
        name: "garbageThreshold",
        type: "float",
        default: 0.3,
        usage: "vacuum volumes with at least this share of deleted bytes on a replica (0-1]",
      },
      { name: "collection", type: "string", default: "", usage: "only volumes of this collection (default all)" },
      { name: "volumeId", type: "int", default: 0, usage: "only this volume (0: all)", check: nonNegativeCheck },
    ],
    run: async (c, f, io) => {
      const o = {
        garbageThreshold: Number(f["garbageThreshold"]),
        ...(str(f, "collection") === "" ? {} : { collection: str(f, "collection") }),
        ...(int(f, "volumeId") === 0 ? {} : { volumeId: int(f, "volumeId") }),
      };
      if (!(await vacuumVolumes(c, o, io))) throw new Error("some volumes could not be vacuumed (see above)");
    },
  },
  "volume.vacuum.disable": {
    help: "stop the leader's automatic vacuum passes (volume.vacuum still runs)",
    run: (c, _f, io) => setVacuumEnabled(c, false, io),
  },
  "volume.vacuum.enable": {
    help: "resume the leader's automatic vacuum passes",
    run: (c, _f, io) => setVacuumEnabled(c, true, io),
  },
  "volume.check.disk": {
    help:
      "[-apply] [-volumeId=N] [-collection=name] [-syncDeleted=true]  compare the needle sets of each " +
      "volume's replicas and copy or delete what differs (dry run unless -apply)",
    flags: [
      {
        name: "apply",
        type: "bool",
        default: false,
        usage: "copy and delete needles (default: only report the differences)",
      },
      { name: "volumeId", type: "int", default: 0, usage: "only this volume (0: all)", check: nonNegativeCheck },
      { name: "collection", type: "string", default: "", usage: "only volumes of this collection (default all)" },
      {
        name: "syncDeleted",
        type: "bool",
        default: true,
        usage: "delete a needle on replicas where it is live when another holds a newer tombstone",
      },
    ],
    run: async (c, f, io) => {
      const o = {
        apply: bool(f, "apply"),
        volumeId: int(f, "volumeId"),
        collection: str(f, "collection"),
        syncDeleted: bool(f, "syncDeleted"),
      };
      if (!(await checkDisk(c, o, io))) throw new Error("some volumes could not be checked or fixed (see above)");
    },
  },
};

function shellHelp(): string {
  return (
    Object.entries(SHELL_COMMANDS)
      .map(([name, c]) => `  ${name.padEnd(28)} ${c.help}`)
      .join("\n") + "\n"
  );
}

/** Runs one command line; returns false when it failed. */
async function runLine(ctx: ShellContext, line: string, io: CommandIo): Promise<boolean> {
  const [name = "", ...args] = line.trim().split(/\s+/);
  if (name === "" || name.startsWith("#")) return true;
  if (name === "help") {
    io.out.write(shellHelp());
    return true;
  }
  const cmd = SHELL_COMMANDS[name];
  if (cmd === undefined) {
    io.err.write(`unknown shell command ${JSON.stringify(name)}; commands:\n${shellHelp()}`);
    return false;
  }
  try {
    const flags = parseFlags(cmd.flags ?? [], args);
    if (flags.help) {
      io.out.write(
        cmd.flags === undefined ? `${name} ${cmd.help}\n` : formatUsage(`shell ${name}`, cmd.help, cmd.flags),
      );
      return true;
    }
    if (flags.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(flags.positional[0])}`);
    for (const r of cmd.required ?? []) if (!flags.set.has(r)) throw new UsageError(`flag -${r} is required`);
    await cmd.run(ctx, flags.values, io);
    return true;
  } catch (err) {
    io.err.write(`${name}: ${(err as Error).message}\n`);
    return false;
  }
}

/**
 * On a terminal: a `> ` prompt with line editing and this session's history (up and down arrows),
 * until `exit`, `quit` or end of input (Ctrl-D). A failed command does not end the session.
 */
async function interactive(ctx: ShellContext, io: CommandIo): Promise<number> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    historySize: shellHistorySize,
    prompt: "> ",
  });
  io.out.write(`weed-ts shell, master ${ctx.master}; "help" lists the commands, "exit" leaves\n`);
  rl.prompt();
  for await (const line of rl) {
    const word = line.trim();
    if (word === "exit" || word === "quit") break;
    await runLine(ctx, line, io);
    rl.prompt();
  }
  rl.close();
  return 0;
}

const shellFlags: readonly FlagSpec[] = [
  { name: "master", type: "string", default: "localhost:9333", usage: "any master's host:port", check: nonEmptyCheck },
  securityFlag,
];

export const shellCommand: Command = {
  name: "shell",
  summary:
    "Runs cluster commands (cluster.status, cluster.ps, cluster.raft.ps, cluster.raft.add/remove/transferLeader, " +
    "volume.list, volume.fix.replication, volume.check.disk, volume.vacuum[.disable|.enable]; " +
    "`help` lists them); reads them from standard input when none is given.",
  flags: shellFlags,
  acceptsArguments: true,
  flagsEndAtArgument: true,
  async run(flags, io) {
    const security = securityFromFlags(flags.values, (w) => io.err.write(`warning: ${w}\n`));
    // The shell serves no gRPC port: it dials (check.disk, fix.replication) with [grpc.client]'s certificate.
    if (security.grpc !== undefined) installProcessGrpcTls(security.grpc, "client");
    const admin = adminKeyOf(security);
    if (admin !== undefined) installProcessAdminKey(admin);
    const ctx: ShellContext = { master: str(flags.values, "master"), security };
    if (flags.positional.length > 0) return (await runLine(ctx, flags.positional.join(" "), io)) ? 0 : 1;
    if (process.stdin.isTTY === true) return interactive(ctx, io);
    const rl = createInterface({ input: process.stdin, terminal: false });
    let ok = true;
    let n = 0;
    for await (const line of rl) {
      if (++n > stdinCommandsMax) break;
      ok = (await runLine(ctx, line, io)) && ok;
    }
    return ok ? 0 : 1;
  },
};
