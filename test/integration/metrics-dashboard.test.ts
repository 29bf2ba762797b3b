// The Grafana dashboard (deploy/grafana/weed-ts.json) and the Prometheus alerts
// (deploy/prometheus/alerts.yml) against a running cluster: three Raft masters and a volume
// server as real processes. Every metric a panel or an alert uses must be exported by some
// server (a renamed metric would leave a panel empty and an alert silent), and
// SeaweedFS_master_is_leader is 1 on exactly one master, before and after the leader is killed
// (issue 14: it was 1 on every master, so "number of leaders != 1" could never fire).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const DEPLOY = resolve(import.meta.dirname, "../../deploy");
/** Series Prometheus records itself for every scrape target; no server exports them. */
const PROMETHEUS_OWN = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped"]);
/** PromQL words that are neither functions (those are followed by "(") nor metrics. */
const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"]);

let tmp: TempDir;
const masterPorts: number[] = [];
let volumePort = 0;
const masters: WeedProcess[] = [];
let volume: WeedProcess;

/** Metric names a PromQL expression reads: what is left once strings, matchers, ranges and groupings go. */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, " ");
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)/g)) {
    if (m[1] !== undefined || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Every expression of the dashboard's panels (rows included), with the panel's title. */
function dashboardExprs(): { where: string; expr: string }[] {
  interface Panel {
    title: string;
    targets?: { expr: string }[];
    panels?: Panel[];
  }
  const dash = JSON.parse(readFileSync(`${DEPLOY}/grafana/weed-ts.json`, "utf8")) as { panels: Panel[] };
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  return out;
}

/** The rules of alerts.yml: each "- alert:" block with its one-line expr, for, and severity. */
function alertRules(): { alert: string; expr: string; for: string; severity: string }[] {
  const text = readFileSync(`${DEPLOY}/prometheus/alerts.yml`, "utf8");
  return text
    .split(/^\s*- alert: /m)
    .slice(1)
    .map((block) => ({
      alert: block.split("\n")[0]!.trim(),
      expr: /^\s*expr: (.+)$/m.exec(block)?.[1]?.trim() ?? "",
      for: /^\s*for: (\S+)$/m.exec(block)?.[1] ?? "",
      severity: /^\s*severity: (\S+)$/m.exec(block)?.[1] ?? "",
    }));
}

async function scrape(port: number): Promise<string> {
  const r = await request(`http://127.0.0.1:${port}/metrics`, { headersTimeout: 5000, bodyTimeout: 5000 });
  expect(r.statusCode).toBe(200);
  return r.body.text();
}

/** Metric names a scrape exports: each family, and a histogram's _bucket, _sum and _count. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1]! + s);
  }
  return names;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** is_leader and has_leader of each live master, by index. */
async function leadership(live: number[]): Promise<{ leaders: number[]; withLeader: number[] }> {
  const texts = await Promise.all(live.map((i) => scrape(masterPorts[i]!)));
  return {
    leaders: live.filter((_, k) => gauge(texts[k]!, "SeaweedFS_master_is_leader") === 1),
    withLeader: live.filter((_, k) => gauge(texts[k]!, "SeaweedFS_master_raft_has_leader") === 1),
  };
}

/** The one master whose /cluster/status says it leads, once all live masters agree. */
async function statusLeader(live: number[]): Promise<number> {
  return eventually(
    async () => {
      const all = await Promise.all(
        live.map(async (i) => (await getJson(`http://127.0.0.1:${masterPorts[i]}/cluster/status`)).json),
      );
      const claiming = live.filter((_, k) => all[k].IsLeader === true);
      if (claiming.length !== 1 || new Set(all.map((s) => s.Leader)).size !== 1) throw new Error("no agreed leader");
      return claiming[0]!;
    },
    { ...PROCESS_WAIT, what: "one leader agreed by every live master" },
  );
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-metrics-dashboard-");
  for (let i = 0; i < 3; i++) masterPorts.push(await freePortPair());
  volumePort = await freePortPair();
  const peers = masterPorts.map((p) => `127.0.0.1:${p}`).join(",");
  for (let i = 0; i < 3; i++) {
    const args = [`-mdir=${tmp.dir}/m${i}`, "-ip=127.0.0.1", `-port=${masterPorts[i]}`, `-peers=${peers}`];
    masters.push(new WeedProcess(["master", ...args, "-logLevel=warn"]));
  }
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://127.0.0.1:${masterPorts[i]}/healthz`, masters[i]);
  volume = new WeedProcess([
    ...["volume", `-dir=${tmp.dir}/v`, "-ip=127.0.0.1", `-port=${volumePort}`],
    ...[`-mserver=${peers}`, "-max=4", "-logLevel=warn"],
  ]);
  await waitHttpOk(`http://127.0.0.1:${volumePort}/healthz`, volume);
  const leader = await statusLeader([0, 1, 2]);
  await waitFor(async () => gauge(await scrape(masterPorts[leader]!), "SeaweedFS_master_volume_servers") === 1, {
    ...PROCESS_WAIT,
    what: "the volume server registered with the leader",
  });
  // One write and one read, so the request counters and histograms have samples too.
  const form = new FormData();
  form.append("file", new Blob([Buffer.from("metrics")]), "m.txt");
  const submitted = await request(`http://127.0.0.1:${masterPorts[leader]}/submit`, { method: "POST", body: form });
  const { fileUrl } = (await submitted.body.json()) as { fileUrl: string };
  expect(submitted.statusCode).toBe(201);
  expect((await request(`http://${fileUrl}`)).statusCode).toBe(200);
});

afterAll(async () => {
  for (const p of [volume, ...masters]) await p?.stop();
  await tmp?.remove();
});

describe("metrics of a running cluster", () => {
  it("every metric the dashboard and the alert rules use is exported", async () => {
    const exported = new Set<string>(PROMETHEUS_OWN);
    for (const port of [...masterPorts, volumePort]) for (const n of exportedNames(await scrape(port))) exported.add(n);
    const exprs = [...dashboardExprs(), ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))];
    expect(exprs.length).toBeGreaterThan(30);
    // The reader of expressions itself: functions, groupings, matchers and ranges are not metrics.
    const sample = 'histogram_quantile(0.99, sum by (type, le) (rate(a_bucket{code=~"5.."}[5m]))) / ignoring(type) b';
    expect(metricNamesOf(sample)).toEqual(["a_bucket", "b"]);
    const missing: string[] = [];
    for (const { where, expr } of exprs) {
      const names = metricNamesOf(expr);
      if (names.length === 0) missing.push(`${where}: no metric in ${expr}`);
      for (const n of names) if (!exported.has(n)) missing.push(`${where}: ${n}`);
    }
    expect(missing).toEqual([]);
  });

  it("alert rules cover no leader, several leaders, frequent elections, a server down and a full disk", () => {
    const rules = alertRules();
    for (const r of rules) {
      expect(r.expr, r.alert).not.toBe("");
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(["warning", "critical"], r.alert).toContain(r.severity);
    }
    const byName = new Map(rules.map((r) => [r.alert, r.expr]));
    expect(byName.get("WeedTsNoLeader")).toBe("sum(SeaweedFS_master_is_leader) == 0");
    expect(byName.get("WeedTsMoreThanOneLeader")).toBe("sum(SeaweedFS_master_is_leader) > 1");
    expect(byName.get("WeedTsFrequentLeaderChanges")).toContain("SeaweedFS_master_raft_leader_changes_seen_total");
    expect(byName.get("WeedTsVolumeServerDown")).toContain('up{job="weed-ts-volume"}');
    expect(byName.get("WeedTsDiskNearlyFull")).toContain('SeaweedFS_volumeServer_resource_bytes{type="avail"}');
  });

  it("the volume server reports its requests, volumes and disk under SeaweedFS's names", async () => {
    const text = await scrape(volumePort);
    expect(text).toMatch(/^SeaweedFS_volumeServer_request_total\{type="POST",code="201"\} [1-9]/m);
    expect(text).toMatch(/^SeaweedFS_volumeServer_request_seconds_count\{type="GET"\} [1-9]/m);
    expect(text).toMatch(/^SeaweedFS_volumeServer_volumes\{collection="",type="volume"\} [1-9]/m);
    expect(text).toMatch(/^SeaweedFS_volumeServer_resource_bytes\{name="[^"]+",type="avail"\} [1-9]/m);
    expect(text).toMatch(/^SeaweedFS_volumeServer_max_volumes 4$/m);
    expect(text).not.toContain("weedts_volume_");
  });

  it("is_leader is 1 on the leader only, has_leader on all; after the leader dies, one of two", async () => {
    const leader = await statusLeader([0, 1, 2]);
    const before = await leadership([0, 1, 2]);
    expect(before).toEqual({ leaders: [leader], withLeader: [0, 1, 2] });
    const leaderText = await scrape(masterPorts[leader]!);
    for (const i of [0, 1, 2].filter((k) => k !== leader))
      expect(leaderText).toMatch(
        new RegExp(
          `^SeaweedFS_master_raft_peer_last_heard_seconds\\{peer="127\\.0\\.0\\.1:${masterPorts[i]}"\\} `,
          "m",
        ),
      );
    expect(gauge(leaderText, "SeaweedFS_master_raft_proposal_commit_duration_seconds_count")).toBeGreaterThan(0);

    await masters[leader]!.kill9();
    const left = [0, 1, 2].filter((k) => k !== leader);
    const next = await statusLeader(left);
    const after = await eventually(
      async () => {
        const l = await leadership(left);
        if (l.leaders.length !== 1 || l.withLeader.length !== 2) throw new Error(JSON.stringify(l));
        return l;
      },
      { ...PROCESS_WAIT, what: "one leader among the two masters left" },
    );
    expect(after).toEqual({ leaders: [next], withLeader: left });
    const changes = gauge(await scrape(masterPorts[next]!), "SeaweedFS_master_raft_leader_changes_seen_total");
    expect(changes).toBeGreaterThanOrEqual(2);

    // The last master alone has no quorum: it must not claim to lead nor to know a leader.
    await masters[next]!.kill9();
    const lone = left.filter((k) => k !== next);
    await waitFor(async () => JSON.stringify(await leadership(lone)) === '{"leaders":[],"withLeader":[]}', {
      ...PROCESS_WAIT,
      what: "the master left alone reports no leader",
    });
  });
});
