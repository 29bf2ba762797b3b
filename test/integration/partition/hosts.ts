// Five weed-ts processes as five hosts for the partition tests (issue 10): three masters on
// 127.0.0.2-4 and two volume servers on 127.0.0.5-6, all on the same HTTP port (gRPC on port+10000),
// each process running as its own unix uid so that links.ts can tell their packets apart. Needs
// root (setuid children, iptables); `partitionSupport()` says why not when it cannot run.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir, waitFor, type TempDir } from "../../helpers.js";
import { onExitSync } from "./exit-hooks.js";
import { BIN, freePortPair, getJson, waitHttpOk, WeedProcess } from "../harness.js";

export const MASTER_NAMES = ["m1", "m2", "m3"] as const;
export const VOLUME_NAMES = ["v1", "v2"] as const;
export type MasterName = (typeof MASTER_NAMES)[number];
export type VolumeName = (typeof VOLUME_NAMES)[number];
export type HostName = MasterName | VolumeName;

const ADDRESSES: Record<HostName, string> = {
  m1: "127.0.0.2",
  m2: "127.0.0.3",
  m3: "127.0.0.4",
  v1: "127.0.0.5",
  v2: "127.0.0.6",
};

/** The gRPC port every process derives from its HTTP port (the CLI's default). */
export const GRPC_OFFSET = 10_000;

/** Bound on each status poll the harness makes: the test process is never cut off, so a slow answer is a finding. */
const STATUS_TIMEOUT_MS = 1_000;
/** Cluster start: five processes on two cores, an election, two volume servers registering. */
const START_WAIT = { timeoutMs: 30_000, intervalMs: 100 } as const;

export interface Host {
  readonly name: HostName;
  readonly kind: "master" | "volume";
  readonly addr: string;
  /** The unix uid (and gid) its process runs as; no passwd entry needed. */
  readonly uid: number;
  /** "addr:port", the identity other processes know it by. */
  readonly id: string;
  readonly dir: string;
  proc: WeedProcess | undefined;
}

export interface RaftStatus {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  leaderAddress: string | null;
  commit: number;
}

export interface ClusterStatus {
  IsLeader: boolean;
  Leader: string;
  Peers: string[];
}

/** Why the partition tests cannot run here, or undefined when they can. */
export function partitionSupport(): string | undefined {
  if (process.platform !== "linux") return "they need Linux (iptables owner/connmark matches)";
  if (process.getuid?.() !== 0) return "they need root (iptables rules, processes under their own uids)";
  const ipt = spawnSync("iptables", ["-w", "-S", "OUTPUT"], { encoding: "utf8" });
  if (ipt.error !== undefined || ipt.status !== 0)
    return `iptables is not usable (${ipt.error?.message ?? ipt.stderr.trim()}); .ci/run installs it from Debian`;
  return undefined;
}

/**
 * Uids for one run: 5 consecutive ids from a base derived from the pid, so two runs on one machine
 * (two checkouts) neither share uids nor each other's iptables matches.
 */
function uidBase(): number {
  return 60_000 + (process.pid % 4_000) * 8;
}

/** The checkout must be readable by the hosts' uids; under root a failure here is a setup error, not a skip. */
function assertReadableAs(uid: number): void {
  const r = spawnSync(process.execPath, [BIN, "master", "-h"], { uid, gid: uid, encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) {
    throw new Error(
      `uid ${uid} cannot run ${BIN} (exit ${r.status}, ${r.error?.message ?? r.stderr.slice(0, 500)}): ` +
        "the partition tests run each host as its own uid, so the checkout (and node_modules, dist) " +
        "must be readable and its directories searchable by other users (chmod -R o+rX)",
    );
  }
}

function isFreeOn(addr: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, addr, () => s.close(() => res(true)));
  });
}

/** A port (and port+10000) free on every host address. */
async function portFreeEverywhere(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await freePortPair();
    const checks = Object.values(ADDRESSES).flatMap((a) => [isFreeOn(a, p), isFreeOn(a, p + GRPC_OFFSET)]);
    if ((await Promise.all(checks)).every(Boolean)) return p;
  }
  throw new Error("no port free on all of 127.0.0.2-6 after 50 attempts");
}

/** Whether this build has a flag (the lead adds -pulseSeconds while these tests are written). */
export function hasFlag(command: "master" | "volume", flag: string): boolean {
  const r = spawnSync(process.execPath, [BIN, command, "-h"], { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`.includes(`-${flag} `) || `${r.stdout}${r.stderr}`.includes(`-${flag}\n`);
}

export interface ClusterOptions {
  /** -pulseSeconds for masters and volume servers, when the build has the flag. */
  pulseSeconds?: number;
  logLevel?: string;
}

export class Cluster {
  readonly hosts: Record<HostName, Host>;
  /** The volume servers' heartbeat interval in effect (the flag's value, or the documented default 5 s). */
  readonly pulseSeconds: number;
  private readonly pulseFlag: string[];
  private unhook: () => void = () => {};

  private constructor(
    private readonly tmp: TempDir,
    readonly port: number,
    uid0: number,
    private readonly options: ClusterOptions,
  ) {
    const host = (name: HostName, i: number): Host => ({
      name,
      kind: name.startsWith("m") ? "master" : "volume",
      addr: ADDRESSES[name],
      uid: uid0 + i,
      id: `${ADDRESSES[name]}:${port}`,
      dir: join(tmp.dir, name),
      proc: undefined,
    });
    this.hosts = { m1: host("m1", 0), m2: host("m2", 1), m3: host("m3", 2), v1: host("v1", 3), v2: host("v2", 4) };
    const flagged =
      options.pulseSeconds !== undefined && hasFlag("master", "pulseSeconds") && hasFlag("volume", "pulseSeconds");
    this.pulseSeconds = flagged ? options.pulseSeconds! : 5;
    this.pulseFlag = flagged ? [`-pulseSeconds=${options.pulseSeconds}`] : [];
  }

  /** Picks the port and uids and makes the data directories; starts nothing. */
  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    const uid0 = uidBase();
    assertReadableAs(uid0);
    const tmp = await tempDir("weed-ts-partition-");
    await chmod(tmp.dir, 0o755); // the hosts' uids must reach their own directories inside
    const c = new Cluster(tmp, await portFreeEverywhere(), uid0, options);
    for (const h of c.all()) {
      await mkdir(h.dir);
      await chown(h.dir, h.uid, h.uid);
    }
    c.unhook = onExitSync(() => c.killAllSync());
    return c;
  }

  all(): Host[] {
    return Object.values(this.hosts);
  }

  masters(): Host[] {
    return MASTER_NAMES.map((n) => this.hosts[n]);
  }

  volumes(): Host[] {
    return VOLUME_NAMES.map((n) => this.hosts[n]);
  }

  url(name: HostName, path: string): string {
    return `http://${this.hosts[name].id}${path}`;
  }

  /** The host whose id ("addr:port") or address this is. */
  byId(id: string | null | undefined): Host | undefined {
    return this.all().find((h) => h.id === id || h.addr === id);
  }

  private argsOf(h: Host): string[] {
    const common = [`-port=${this.port}`, `-ip=${h.addr}`, `-ip.bind=${h.addr}`, ...this.pulseFlag];
    const level = `-logLevel=${this.options.logLevel ?? "info"}`;
    if (h.kind === "master") {
      const peers = this.masters().map((m) => m.id);
      return ["master", ...common, `-mdir=${h.dir}`, `-peers=${peers.join(",")}`, level];
    }
    const masters = this.masters().map((m) => m.id);
    return ["volume", ...common, `-dir=${h.dir}`, `-mserver=${masters.join(",")}`, "-max=8", level];
  }

  startHost(name: HostName): WeedProcess {
    const h = this.hosts[name];
    h.proc = new WeedProcess(this.argsOf(h), { uid: h.uid, gid: h.uid });
    return h.proc;
  }

  /** Starts all five, then waits for one agreed leader holding both volume servers. */
  async start(): Promise<void> {
    for (const m of this.masters()) this.startHost(m.name);
    for (const m of this.masters()) await waitHttpOk(this.url(m.name, "/healthz"), m.proc, START_WAIT.timeoutMs);
    for (const v of this.volumes()) this.startHost(v.name);
    for (const v of this.volumes()) await waitHttpOk(this.url(v.name, "/healthz"), v.proc, START_WAIT.timeoutMs);
    await this.waitHealthy(START_WAIT.timeoutMs);
  }

  /** One leader named by all three masters, both volume servers in its topology, and an assign answered. */
  async waitHealthy(timeoutMs: number): Promise<MasterName> {
    let leader: MasterName | undefined;
    await waitFor(
      async () => {
        leader = await this.agreedLeader();
        if (leader === undefined) return false;
        const nodes = await this.topologyNodes(leader);
        if (!this.volumes().every((v) => nodes?.includes(v.id))) return false;
        const a = await getJson(this.url(leader, "/dir/assign"), timeouts(STATUS_TIMEOUT_MS));
        return a.status === 200;
      },
      { what: "one agreed leader, both volume servers registered, an assign answered", timeoutMs, intervalMs: 100 },
    );
    return leader!;
  }

  /** The leader all three masters agree on (by /cluster/raft), or undefined. */
  async agreedLeader(): Promise<MasterName | undefined> {
    const all = await Promise.all(this.masters().map((m) => this.raftStatus(m.name)));
    const leaders = all.filter((s) => s?.role === "leader");
    if (leaders.length !== 1 || all.some((s) => s === undefined)) return undefined;
    const l = leaders[0]!;
    if (!all.every((s) => s!.leader === l.leader && s!.term === l.term)) return undefined;
    return this.byId(l.id)?.name as MasterName | undefined;
  }

  async raftStatus(name: HostName): Promise<RaftStatus | undefined> {
    return (await this.statusJson(name, "/cluster/raft")) as RaftStatus | undefined;
  }

  async clusterStatus(name: HostName): Promise<ClusterStatus | undefined> {
    return (await this.statusJson(name, "/cluster/status")) as ClusterStatus | undefined;
  }

  /** The volume servers ("addr:port") in this master's topology (/dir/status), or undefined. */
  async topologyNodes(name: HostName): Promise<string[] | undefined> {
    const s = (await this.statusJson(name, "/dir/status")) as { Topology?: { DataCenters?: any[] } } | undefined;
    if (s?.Topology === undefined) return undefined;
    const out: string[] = [];
    for (const dc of s.Topology.DataCenters ?? [])
      for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) out.push(n.Url as string);
    return out;
  }

  private async statusJson(name: HostName, path: string): Promise<unknown> {
    try {
      const r = await getJson(this.url(name, path), timeouts(STATUS_TIMEOUT_MS));
      return r.status === 200 ? r.json : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every process's log tail into `<dir>/<host>.log`; returns the directory. */
  async saveLogs(dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    for (const h of this.all()) await writeFile(join(dir, `${h.name}.log`), h.proc?.logs() ?? "(not started)\n");
    return dir;
  }

  /** Stops the processes this cluster started (by pid) and removes the data directory. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((h) => h.proc?.stop(5_000)));
    this.unhook();
    await this.tmp.remove();
  }

  /** For process exit (a failed run, Ctrl-C): SIGKILL to our own children only, then their data goes. */
  killAllSync(): void {
    for (const h of this.all()) {
      if (h.proc !== undefined && !h.proc.exited) h.proc.child.kill("SIGKILL");
    }
    rmSync(this.tmp.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function timeouts(ms: number): { headersTimeout: number; bodyTimeout: number; signal: AbortSignal } {
  return { headersTimeout: ms, bodyTimeout: ms, signal: AbortSignal.timeout(ms) };
}
