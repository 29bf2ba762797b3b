// Pure helpers of `npm run bench:all` (scripts/bench-all.mjs): the goals of issue 15, the parsers of
// what the benchmark scripts print, and the one table of ratios. No I/O here, so
// test/unit/bench-table.test.ts can check them on captured output.

/**
 * Issue 15's goals. `of: "ratio"` judges weed-ts / ceiling, `of: "value"` the weed-ts figure itself.
 * Failover has an absolute goal (its ratio to etcd is printed, lower is better, but not judged).
 */
export const GOALS = {
  blobGet: { of: "ratio", op: ">=", target: 0.85 },
  blobPut: { of: "ratio", op: ">=", target: 0.75 },
  raftC1: { of: "ratio", op: ">=", target: 1.2 },
  raftC16: { of: "ratio", op: ">=", target: 1.5 },
  raftC64: { of: "ratio", op: ">=", target: 2 },
  failoverMedian: { of: "value", op: "<=", target: 300, unit: "ms" },
  failoverP90: { of: "value", op: "<=", target: 600, unit: "ms" },
  scaleCpu: { of: "value", op: "<", target: 50, unit: "%" },
  scaleAssignP99: { of: "value", op: "<", target: 5, unit: "ms" },
  scaleReady: { of: "value", op: "<", target: 2000, unit: "ms" },
};

/** The Raft concurrencies compared with etcd, each with its goal. */
export const RAFT_GOALS = new Map([
  [1, GOALS.raftC1],
  [16, GOALS.raftC16],
  [64, GOALS.raftC64],
]);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile, as bench-raft, bench-failover and the etcd anchors compute it. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** The JSON of the last `RESULT {...}` line of a script's output, or null. */
export function parseResultLine(text) {
  const lines = text.split("\n").filter((l) => /^\s*RESULT \{/.test(l));
  if (lines.length === 0) return null;
  const json = lines[lines.length - 1].trim().slice("RESULT ".length);
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

const BLOB_ROW =
  /^\s*(\d+)\s+(get|put)\s+(\S+)\s+(\d+(?:\.\d+)?)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+(?:\.\d+)?)\s*$/;

/** The rows of bench-blob's table ("round case server req/s p50 p99 cpu err non2xx load"). */
export function parseBlobRows(text) {
  const rows = [];
  for (const line of text.split("\n")) {
    const m = BLOB_ROW.exec(line);
    if (m === null) continue;
    rows.push({ round: Number(m[1]), case: m[2], server: m[3], rps: Number(m[4]), errors: Number(m[8]) });
  }
  return rows;
}

/**
 * GET or PUT of bench-blob's rows: weed-ts's and bare's median req/s, and the median of the per-round
 * ratios (as bench-blob prints it: each round's pair ran back to back). null when no round has both.
 */
export function blobFigures(rows, c) {
  const ratios = [];
  const weed = [];
  const bare = [];
  for (const round of new Set(rows.map((r) => r.round))) {
    const w = rows.find((r) => r.round === round && r.case === c && r.server === "weed");
    const b = rows.find((r) => r.round === round && r.case === c && r.server === "bare");
    if (w === undefined || b === undefined) continue;
    weed.push(w.rps);
    bare.push(b.rps);
    ratios.push(w.rps / b.rps);
  }
  if (ratios.length === 0) return null;
  return { weed: median(weed), ceiling: median(bare), ratio: median(ratios), rounds: ratios.length };
}

/** A number after `label` in `text` (e.g. "leader CPU 12.5%"), or undefined. */
function numberAfter(text, re) {
  const m = re.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/**
 * bench-scale's figures: leader CPU % of a core, assign p99 at concurrency 1 (ms), and the time from
 * the leader's kill to the first assign through a survivor (ms). From its RESULT line when it printed
 * one (a figure it gave as null, e.g. a p99 of a phase with failed requests, stays undefined: the
 * printed line would hide the failures), else from its printed lines.
 */
export function parseScale(text) {
  const r = parseResultLine(text);
  if (r !== null) {
    return {
      cpuPercent: firstNumber(r.leaderCpuPercent),
      assignP99Ms: firstNumber(r.assignC1P99Ms),
      readyMs: firstNumber(r.firstAssignMs),
    };
  }
  return {
    cpuPercent: numberAfter(text, /leader CPU (\d+(?:\.\d+)?)% of a core/),
    assignP99Ms: numberAfter(text, /assign c1: .*?p99 (\d+(?:\.\d+)?) ms/),
    readyMs: numberAfter(text, /first assign (\d+(?:\.\d+)?) ms/),
  };
}

function firstNumber(...xs) {
  return xs.find((x) => typeof x === "number" && Number.isFinite(x));
}

/** "OK" or "MISSED" for the judged figure (the ratio or the value, per the goal); null when absent. */
export function verdict(goal, x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return null;
  const ok = goal.op === ">=" ? x >= goal.target : goal.op === "<=" ? x <= goal.target : x < goal.target;
  return ok ? "OK" : "MISSED";
}

export function ratioOf(weed, ceiling) {
  if (typeof weed !== "number" || typeof ceiling !== "number" || ceiling === 0) return undefined;
  return weed / ceiling;
}

export function goalText(goal) {
  const op = goal.op === ">=" ? "≥" : goal.op === "<=" ? "≤" : "<";
  return goal.of === "ratio"
    ? `ratio ${op} ${goal.target}`
    : `${op} ${goal.target}${goal.unit === "%" ? "" : " "}${goal.unit}`;
}

/** A figure for the table: "-" when absent; thousands without decimals, small numbers with some. */
export function figure(x, unit = "") {
  if (typeof x !== "number" || !Number.isFinite(x)) return "-";
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  const text = x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit === "" ? text : unit === "%" ? `${text}%` : `${text} ${unit}`;
}

/**
 * A table row. `weed`/`ceiling` are numbers (or undefined); `ratio` defaults to weed / ceiling (bench-blob
 * gives the median of per-round ratios instead); `ceilingNote` replaces an absent ceiling figure
 * ("etcd not installed"; "-" for absolute goals); `status` overrides the verdict ("FAILED: ...").
 * The result column is OK, MISSED, SKIPPED (no ceiling for a ratio goal) or that status.
 */
export function makeRow({ name, weed, ceiling, ratio, unit = "", goal, ceilingNote, status }) {
  const r = ratio ?? ratioOf(weed, ceiling);
  const judged = verdict(goal, goal.of === "ratio" ? r : weed);
  const noCeiling = goal.of === "ratio" && ceiling === undefined && weed !== undefined;
  const result = status ?? judged ?? (noCeiling ? `SKIPPED (${ceilingNote ?? "no ceiling"})` : "FAILED (no figure)");
  return {
    name,
    weed: figure(weed, unit),
    ceiling: ceiling === undefined ? (ceilingNote ?? "-") : figure(ceiling, unit),
    ratio: r === undefined ? "-" : r.toFixed(2),
    goal: goalText(goal),
    result,
  };
}

const HEAD = ["benchmark", "weed-ts", "ceiling (same run)", "ratio", "goal", "result"];

/** The rows as one Markdown table, columns padded so it reads in a terminal too. */
export function formatTable(rows) {
  const cells = rows.map((r) => [r.name, r.weed, r.ceiling, r.ratio, r.goal, r.result]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (cs) => `| ${cs.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(HEAD), rule, ...cells.map(line)].join("\n");
}

/** BENCH_ALL_ONLY="blob,raft": the parts to run, in the order given by `all`; unknown names throw. */
export function selectParts(all, only) {
  if (only === undefined || only.trim() === "") return [...all];
  const wanted = only.split(/[\s,]+/).filter(Boolean);
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0) throw new Error(`BENCH_ALL_ONLY: unknown part(s) ${unknown.join(", ")}; known: ${all}`);
  return all.filter((p) => wanted.includes(p));
}

const FAILOVER_KILL = /^\s*kill\s+\d+ \(\w+\):\s+(\d+(?:\.\d+)?) ms/gm;

/** bench-failover's per-kill samples (ms) from its printed rounds: what a failed run still measured. */
export function parseFailoverKills(text) {
  return [...text.matchAll(FAILOVER_KILL)].map((m) => Number(m[1]));
}

// How the scripts report the error that stopped them: bench-scale "bench-scale failed: <message>",
// bench-blob "[bench-blob] error: <stack>", the others "bench-<name>: <stack>" (an Error's stack; their
// banner lines have the same prefix, so only a stack's first line counts).
const FAILURE_LINE = /^\s*(?:\[bench-[a-z]+\] error: |bench-[a-z]+ failed: |bench-[a-z]+: (?=\w*Error\b))(.+)$/gm;
const FAILURE_CHARS_MAX = 160; // one line of the report

/** The last line in which a benchmark script said why it failed, or undefined. */
export function failureLine(text) {
  const all = [...text.matchAll(FAILURE_LINE)];
  if (all.length === 0) return undefined;
  const why = all[all.length - 1][1].trim();
  return why.length > FAILURE_CHARS_MAX ? `${why.slice(0, FAILURE_CHARS_MAX - 3)}...` : why;
}
