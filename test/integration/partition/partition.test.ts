// Partitions between hosts (issue 10): three masters and two volume servers as five hosts (own
// 127.0.0.x address, same port, own uid), links cut and healed by iptables on the receiving side
// (links.ts), a sampler of every master's role and term, and an open-loop writer whose every
// acknowledgement is read back. One cluster serves the scenarios in turn; each starts from a
// healthy cluster and ends healed.
//
// Throughout: at most one leader per term (Raft §5.2, Election Safety), no fid acknowledged twice,
// every acknowledged blob reads back byte for byte, and no request waits longer than
// REQUEST_HANG_MAX_MS. The issue's thresholds are the bounds below; they are not loosened to pass.
//
// Needs root and iptables (CI has both: .ci/run installs iptables); elsewhere the file is skipped
// with the reason printed. PARTITION_REPORT=1 (npm run bench:partition) prints the timings table.
// On a failure the processes' logs and the run's timeline are kept under /tmp (the path is printed).
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { Cluster, partitionSupport, type HostName, type MasterName } from "./hosts.js";
import { Links } from "./links.js";
import { probeLinks } from "./probe.js";
import { leadersSeen, maxTerm, Sampler, termsWithTwoLeaders } from "./sampler.js";
import { duplicateAcks, duplicateAssigns, landedAfterFailure, readBack, Writer, type WriteRecord } from "./writer.js";

/** Issue 10: "writes resume through the majority within 1 s of the leader's isolation". */
const WRITES_RESUME_MAX_MS = 1_000;
/** Issue 10: a healed follower "follows again ≤ 1 s after the heal". */
const REJOIN_MAX_MS = 1_000;
/** Issue 10: a silent volume server is dropped after ~3 pulses without a beat. */
const SILENT_PULSES_MAX = 3;
/** Slack on the drop bound: one sampler poll plus the beat's own jitter. */
const DROP_SLACK_MS = 500;
/**
 * No request may wait longer than this ("nothing waits 30 s"): the longest wait the product
 * documents for a client is leaderWaitMs (3 s) plus one assign's growth wait (5 s); 10 s covers both.
 */
const REQUEST_HANG_MAX_MS = 10_000;
/** Issue 10, the flapping link: "no election storm". */
const FLAPPING_LEADER_CHANGES_MAX = 2;
/** "Writes continue" under the flapping link: no window this long without an acknowledged write. */
const FLAPPING_ACK_GAP_MAX_MS = 2_000;
/** Not a threshold of the issue: how long a healed node may take before the scenario gives up on it. */
const SETTLE_MS = 20_000;
/** Each scenario's test timeout: its cut, heal, drain (up to CLIENT_TIMEOUT_MS) and read-back. */
const SCENARIO_TIMEOUT_MS = 150_000;

const unsupported = partitionSupport();
if (unsupported !== undefined) console.warn(`partition tests skipped: ${unsupported}`);
const report = process.env.PARTITION_REPORT === "1";

interface Row {
  scenario: string;
  metric: string;
  ms: number | undefined;
  bound: number | undefined;
}

let cluster: Cluster;
let links: Links;
let sampler: Sampler;
let failed = false;
const rows: Row[] = [];
const timeline: string[] = [];
const allWrites: WriteRecord[] = [];
const t0 = performance.now();

function note(text: string): void {
  timeline.push(`${(performance.now() - t0).toFixed(0).padStart(7)} ms  ${text}`);
}

function record(scenario: string, metric: string, ms: number | undefined, bound?: number): number | undefined {
  rows.push({ scenario, metric, ms, bound });
  const unit = metric.endsWith("(count)") ? "" : " ms";
  note(`${scenario}: ${metric} = ${ms === undefined || !Number.isFinite(ms) ? "never" : `${ms.toFixed(0)}${unit}`}`);
  return ms;
}

/** The others of `h` among all five hosts. */
function othersOf(h: HostName): HostName[] {
  return cluster
    .all()
    .map((x) => x.name)
    .filter((n) => n !== h);
}

function followersOf(leader: MasterName): MasterName[] {
  return cluster
    .masters()
    .map((m) => m.name as MasterName)
    .filter((n) => n !== leader);
}

let starting: Promise<void> | undefined;

/** Starts the cluster once, for the first scenario (the links probe runs on its port before). */
function started(): Promise<void> {
  starting ??= (async () => {
    sampler.start();
    await cluster.start();
  })();
  return starting;
}

async function healthyLeader(scenario: string): Promise<MasterName> {
  await started();
  const leader = await cluster.waitHealthy(SETTLE_MS);
  const s = await cluster.raftStatus(leader);
  note(`${scenario}: start, leader ${leader} term ${s?.term}`);
  return leader;
}

/** The longest requests of these writes, longest first, described for the timeline. */
function longestRequests(writes: readonly WriteRecord[], n: number): { ms: number; what: string }[] {
  const all = writes.flatMap((w) =>
    w.requests.map((r) => ({
      ms: r.ms,
      what:
        `${r.what} #${w.seq} to ${r.via} (write through ${w.via}) sent at ${(r.start - t0).toFixed(0)} ms: ` +
        `${r.status ?? "no answer"}${w.outcome === "failed" ? `, ${w.error}` : ""}`,
    })),
  );
  return all.sort((a, b) => b.ms - a.ms).slice(0, n);
}

/** When a write started at or after `t` through one of `via` was first acknowledged. */
function firstAckAfter(writer: Writer, t: number, via: readonly MasterName[]): number | undefined {
  const ends = writer
    .acks(t)
    .filter((w) => via.includes(w.via))
    .map((w) => w.end!);
  return ends.length === 0 ? undefined : Math.min(...ends);
}

/** Polls until `host` names `leader` (/cluster/status) and a write through it succeeds; returns when. */
async function followsAgain(host: MasterName, leader: MasterName, writer: Writer, since: number): Promise<number> {
  const deadline = since + SETTLE_MS;
  let namedAt: number | undefined;
  while (performance.now() < deadline) {
    const s = await cluster.clusterStatus(host);
    if (namedAt === undefined && s?.Leader === cluster.hosts[leader].id) namedAt = performance.now();
    const acked = firstAckAfter(writer, since, [host]);
    if (namedAt !== undefined && acked !== undefined) return Math.max(namedAt, acked);
    await sleep(25);
  }
  return Infinity;
}

/** The checks every scenario ends with, on its own writes and samples. */
async function commonChecks(scenario: string, writer: Writer, from: number): Promise<void> {
  await writer.stop();
  allWrites.push(...writer.records);
  const writes = writer.records;
  const acks = writes.filter((w) => w.outcome === "ack").length;
  note(`${scenario}: ${writes.length} writes, ${acks} acknowledged, ${writes.length - acks} outcome unknown`);
  const late = await landedAfterFailure(writes);
  note(`${scenario}: of ${late.known} failed writes with a known fid, ${late.landed} are stored all the same`);
  record(scenario, "writes acknowledged (count)", acks);
  record(scenario, "writes outcome unknown (count)", writes.length - acks);
  const top = longestRequests(writes, 5);
  const longest = top[0] ?? { ms: 0, what: "none" };
  for (const r of top) note(`${scenario}: took ${r.ms.toFixed(0)} ms: ${r.what}`);
  record(scenario, "longest request", longest.ms, REQUEST_HANG_MAX_MS);
  expect.soft(termsWithTwoLeaders(sampler.since(from)), "terms with two leaders").toEqual([]);
  expect.soft(duplicateAcks(allWrites), "fids acknowledged twice").toEqual([]);
  expect.soft(duplicateAssigns(allWrites), "fids handed out twice").toEqual([]);
  expect.soft(await readBack(writes), "acknowledged blobs that do not read back").toEqual([]);
  expect.soft(longest.ms, `longest request: ${longest.what}`).toBeLessThanOrEqual(REQUEST_HANG_MAX_MS);
}

function keepLogsOnFailure(): void {
  onTestFailed(() => {
    failed = true;
  });
}

describe.skipIf(unsupported !== undefined)("partitions between hosts (iptables, own uids; issue 10)", () => {
  beforeAll(async () => {
    cluster = await Cluster.create({ pulseSeconds: 1 });
    links = await Links.open(cluster.all(), cluster.port);
    const wall = new Date(Date.now() - (performance.now() - t0)).toISOString();
    note(`t = 0 at ${wall} (the processes' log times are wall-clock)`);
    note(`cluster on port ${cluster.port}, pulse ${cluster.pulseSeconds} s, uids ${cluster.hosts.m1.uid}+`);
    sampler = new Sampler(cluster);
  }, 90_000);

  afterAll(async () => {
    await sampler?.stop();
    await links?.close();
    if (report) printReport();
    if (failed && cluster !== undefined) {
      const logDir = await mkdtemp(join(tmpdir(), "weed-ts-partition-logs-"));
      await cluster.saveLogs(logDir);
      await writeFile(join(logDir, "timeline.txt"), [...timeline, "", ...transitions()].join("\n") + "\n");
      console.warn(`partition tests: processes' logs and the timeline kept in ${logDir}`);
    }
    await cluster?.close();
  }, 60_000);

  it("links: a cut stalls an established connection until the heal, hangs a connect, and can be one-way", async () => {
    keepLogsOnFailure();
    const wrong = await probeLinks(links, cluster.hosts.v1, cluster.hosts.v2, cluster.port);
    expect(wrong, `not as a cut cable; rules and counters:\n${links.listing()}`).toEqual([]);
  }, 30_000);

  it(
    "leader cut from the other masters: it steps down, the majority elects, writes resume within 1 s, no term bump",
    () => leaderIsolated("leader cut from masters", (l) => followersOf(l)),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "leader host cut from every host (volume servers too): the same, and its volume servers move on within 1 s",
    () => leaderIsolated("leader cut from all hosts", (l) => othersOf(l)),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "follower isolated 30 s: leader and term unchanged; it follows again within 1 s of the heal",
    async () => {
      const S = "follower isolated 30 s";
      const { leader, writer, from, termBefore } = await openScenario(S);
      const follower = followersOf(leader)[0]!;
      await links.isolate(follower, othersOf(follower));
      const tCut = performance.now();
      note(`${S}: ${follower} cut from all (leader ${leader}, term ${termBefore})`);
      await sleep(30_000);
      await links.healAll();
      const tHeal = performance.now();
      note(`${S}: healed`);
      const rejoined = await followsAgain(follower, leader, writer, tHeal);
      record(S, "follows again after heal", rejoined - tHeal, REJOIN_MAX_MS);
      await sleep(2_000);
      const during = sampler.since(tCut);
      const majorityAcks = writer.acks(tCut, tHeal).filter((w) => w.via !== follower).length;
      note(`${S}: ${majorityAcks} writes through the majority acknowledged during the cut`);
      await commonChecks(S, writer, from);
      expect
        .soft(
          leadersSeen(during).map((l) => `${l.host}@${l.term}`),
          "leaders seen",
        )
        .toEqual([`${leader}@${termBefore}`]);
      expect.soft(maxTerm(during), "highest term seen (no bump)").toBe(termBefore);
      expect.soft(majorityAcks, "writes through the majority during the cut").toBeGreaterThan(0);
      expect.soft(rejoined - tHeal, "follows again (ms after the heal)").toBeLessThanOrEqual(REJOIN_MAX_MS);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "leader cut from one follower only: no leader change",
    async () => {
      const S = "leader cut from one follower";
      const { leader, writer, from, termBefore } = await openScenario(S);
      const follower = followersOf(leader)[0]!;
      await links.cut(leader, follower);
      const tCut = performance.now();
      note(`${S}: ${leader} <-> ${follower} cut (term ${termBefore})`);
      await sleep(10_000);
      await links.healAll();
      const tHeal = performance.now();
      note(`${S}: healed`);
      const rejoined = await followsAgain(follower, leader, writer, tHeal);
      record(S, "cut follower follows after heal", rejoined - tHeal);
      await sleep(2_000);
      const during = sampler.since(tCut);
      const viaCut = writer.started(tCut, tHeal).filter((w) => w.via === follower);
      const viaCutAcked = viaCut.filter((w) => w.outcome === "ack").length;
      note(`${S}: writes through ${follower} during the cut: ${viaCutAcked}/${viaCut.length} acknowledged`);
      await commonChecks(S, writer, from);
      expect
        .soft(
          leadersSeen(during).map((l) => `${l.host}@${l.term}`),
          "leaders seen",
        )
        .toEqual([`${leader}@${termBefore}`]);
      expect.soft(maxTerm(during), "highest term seen").toBe(termBefore);
      expect.soft(rejoined - tHeal, "the cut follower follows again (ms after the heal)").toBeLessThan(SETTLE_MS);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "volume server cut from the leader only: dropped within ~3 pulses, no assign to it after, re-registers",
    async () => {
      const S = "volume server cut from leader";
      const { leader, writer, from } = await openScenario(S);
      const vol = cluster.hosts.v1;
      const pulseMs = cluster.pulseSeconds * 1000;
      const dropBound = SILENT_PULSES_MAX * pulseMs + DROP_SLACK_MS;
      sampler.watchTopology(() => leader);
      await links.cut(leader, vol.name);
      const tCut = performance.now();
      note(`${S}: ${leader} <-> ${vol.name} cut (pulse ${cluster.pulseSeconds} s)`);
      await sleep(dropBound + 5_000);
      const dropped = sampler.topology.find((s) => s.t >= tCut && s.nodes !== undefined && !s.nodes.includes(vol.id));
      record(S, "silent volume server dropped", dropped === undefined ? undefined : dropped.t - tCut, dropBound);
      const tDrop = dropped?.t ?? tCut + dropBound;
      const assignedAfter = writer.started(tDrop).filter((w) => w.volume === vol.id);
      const toVolDuringCut = writer.started(tCut).filter((w) => w.volume === vol.id).length;
      note(
        `${S}: fids assigned to ${vol.name} after the cut: ${toVolDuringCut}, after the drop: ${assignedAfter.length}`,
      );
      record(S, "assigns to it after the drop (count)", assignedAfter.length, 0);
      await links.healAll();
      const tHeal = performance.now();
      note(`${S}: healed`);
      const back = await waitTopology(tHeal, (nodes) => nodes.includes(vol.id));
      record(S, "volume server re-registered after heal", back - tHeal);
      sampler.watchTopology(() => undefined);
      await commonChecks(S, writer, from);
      expect.soft(dropped, `${vol.name} dropped from ${leader}'s topology`).toBeDefined();
      expect
        .soft(dropped === undefined ? Infinity : dropped.t - tCut, "dropped (ms after the cut)")
        .toBeLessThan(dropBound);
      expect
        .soft(
          assignedAfter.map((w) => `${w.fid} at +${(w.start - tCut).toFixed(0)} ms`),
          "assigned after drop",
        )
        .toEqual([]);
      expect.soft(back - tHeal, "re-registered (ms after the heal)").toBeLessThan(SETTLE_MS);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "flapping link (leader <-> follower cut and healed every 500 ms for 20 s): no election storm, writes go on",
    async () => {
      const S = "flapping link";
      const { leader, writer, from } = await openScenario(S);
      const follower = followersOf(leader)[0]!;
      const tStart = performance.now();
      note(`${S}: flapping ${leader} <-> ${follower}`);
      for (let i = 0; i < 40; i++) {
        const next = tStart + (i + 1) * 500;
        if (i % 2 === 0) await links.cut(leader, follower);
        else await links.heal(leader, follower);
        await sleep(Math.max(0, next - performance.now()));
      }
      await links.healAll();
      const tEnd = performance.now();
      note(`${S}: healed`);
      await sleep(2_000);
      const changes = leadersSeen(sampler.since(tStart)).length - 1;
      const gap = longestAckGap(writer.acks(tStart - 1_000), tStart, tEnd);
      record(S, "leader changes (count)", changes, FLAPPING_LEADER_CHANGES_MAX);
      record(S, "longest gap between acks", gap, FLAPPING_ACK_GAP_MAX_MS);
      await commonChecks(S, writer, from);
      expect.soft(changes, "leader changes while flapping").toBeLessThanOrEqual(FLAPPING_LEADER_CHANGES_MAX);
      expect.soft(gap, "longest time without an acknowledged write").toBeLessThanOrEqual(FLAPPING_ACK_GAP_MAX_MS);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

/**
 * Every scenario's opening: keep the logs if it fails, a healthy leader, a writer running for a
 * second through `through` (default every master), and the term before anything is cut.
 */
async function openScenario(
  S: string,
  through?: (leader: MasterName) => MasterName[],
): Promise<{ leader: MasterName; writer: Writer; from: number; termBefore: number }> {
  keepLogsOnFailure();
  const leader = await healthyLeader(S);
  const writer = new Writer(cluster);
  const from = performance.now();
  writer.start(through?.(leader) ?? cluster.masters().map((m) => m.name as MasterName));
  await sleep(1_000);
  const termBefore = (await cluster.raftStatus(leader))!.term;
  return { leader, writer, from, termBefore };
}

/**
 * The leader is cut from `cutFrom(leader)`; writes go through the two others. It must step down,
 * they elect, writes through them resume within WRITES_RESUME_MAX_MS of the cut, and after the heal
 * the old leader follows with no term bump (PreVote, Raft thesis §9.6).
 */
async function leaderIsolated(S: string, cutFrom: (leader: MasterName) => HostName[]): Promise<void> {
  const { leader, writer, from, termBefore } = await openScenario(S, followersOf);
  const followers = followersOf(leader);
  for (const o of cutFrom(leader)) await links.cut(leader, o);
  const tCut = performance.now();
  note(`${S}: ${leader} cut from ${cutFrom(leader).join(", ")} (term ${termBefore})`);
  await sleep(5_000);
  const stepDown = sampler.first(tCut, (s) => s.host === leader && s.role !== undefined && s.role !== "leader");
  const elected = sampler.first(tCut, (s) => s.host !== leader && s.role === "leader" && s.term! > termBefore);
  const resumed = firstAckAfter(writer, tCut, followers);
  record(S, "step-down", stepDown === undefined ? undefined : stepDown.t - tCut);
  record(S, "new leader elected", elected === undefined ? undefined : elected.t - tCut);
  record(S, "writes resume", resumed === undefined ? undefined : resumed - tCut, WRITES_RESUME_MAX_MS);
  const termAtHeal = maxTerm(sampler.since(tCut));
  await links.healAll();
  const tHeal = performance.now();
  note(`${S}: healed (term ${termAtHeal})`);
  writer.start([...followers, leader]); // "follows" includes a write through it succeeding
  const newLeader = elected?.host;
  const rejoined = newLeader === undefined ? Infinity : await followsAgain(leader, newLeader, writer, tHeal);
  record(S, "old leader follows after heal", rejoined - tHeal);
  await sleep(2_000);
  const termAfter = maxTerm(sampler.since(tHeal));
  await commonChecks(S, writer, from);
  expect.soft(stepDown, "the isolated leader stepped down").toBeDefined();
  expect.soft(elected, "the majority elected a leader").toBeDefined();
  expect
    .soft(resumed === undefined ? Infinity : resumed - tCut, "writes resume (ms after the cut)")
    .toBeLessThanOrEqual(WRITES_RESUME_MAX_MS);
  expect.soft(termAfter, "term after the heal (PreVote: no bump)").toBe(termAtHeal);
}

/** Waits for the sampled topology to satisfy `pred` after `since`; returns when (Infinity: never). */
async function waitTopology(since: number, pred: (nodes: string[]) => boolean): Promise<number> {
  while (performance.now() < since + SETTLE_MS) {
    const s = sampler.topology.find((x) => x.t >= since && x.nodes !== undefined && pred(x.nodes));
    if (s !== undefined) return s.t;
    await sleep(50);
  }
  return Infinity;
}

/** The longest stretch of [t0, t1] in which no write was acknowledged (by acknowledgement time). */
function longestAckGap(acks: readonly WriteRecord[], t0: number, t1: number): number {
  const ends = acks
    .map((w) => w.end!)
    .filter((t) => t >= t0 && t <= t1)
    .sort((a, b) => a - b);
  let gap = 0;
  let last = t0;
  for (const t of [...ends, t1]) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return gap;
}

/** Every change of a master's (role, term, leader) as sampled, for the kept timeline. */
function transitions(): string[] {
  const last = new Map<string, string>();
  const out: string[] = [];
  for (const s of sampler.raft) {
    const v = `${s.role ?? "no answer"} term ${s.term ?? "?"} leader ${s.leader ?? "-"}`;
    if (last.get(s.host) === v) continue;
    last.set(s.host, v);
    out.push(`${(s.t - t0).toFixed(0).padStart(7)} ms  ${s.host}: ${v}`);
  }
  return out;
}

function printReport(): void {
  const fmt = (ms: number | undefined, unit: boolean): string =>
    ms === undefined || !Number.isFinite(ms) ? "never" : unit ? `${ms.toFixed(0)} ms` : ms.toFixed(0);
  const lines = rows.map((r) => {
    const isCount = r.metric.endsWith("(count)");
    const over = r.bound !== undefined && (r.ms === undefined || !(r.ms <= r.bound));
    const bound = r.bound === undefined ? "" : `${isCount ? "≤ " + r.bound : "≤ " + r.bound + " ms"}`;
    return [
      r.scenario.padEnd(32),
      r.metric.padEnd(40),
      fmt(r.ms, !isCount).padStart(10),
      bound.padEnd(12),
      over ? "OVER" : "",
    ]
      .join("  ")
      .trimEnd();
  });
  console.log(
    ["", "partition timings (ms after the cut, or after the heal where it says so)", ...lines, ""].join("\n"),
  );
}
