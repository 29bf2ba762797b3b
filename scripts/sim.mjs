#!/usr/bin/env node
// Deterministic simulation of Raft groups (src/raft/sim). Needs a build (imports dist/):
//   npx tsc -p tsconfig.json
//   node scripts/sim.mjs --seeds N [--first-seed S]   run N seeds; exit 1 at the first violation
//   node scripts/sim.mjs --seed S [--quiet]           replay one seed exactly, one trace line per event
import { parseArgs } from "node:util";

const USAGE = "usage: sim.mjs --seeds N [--first-seed S] | --seed S [--quiet]";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    "first-seed": { type: "string" },
    seed: { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});

function int(name, text) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`sim: --${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

function summary(r) {
  const s = r.stats;
  return [
    `ticks=${s.ticks} (liveness ${s.livenessTicks}) leaders=${s.leaders} commit=${s.commitIndex} ` +
      `acked=${s.acked} reads=${s.readsServed}`,
    `msgs=${s.messages} dropped=${s.dropped} dup=${s.duplicated} crashes=${s.crashes} partitions=${s.partitions}`,
    `snapshots sent=${s.snapshotsSent} taken=${s.snapshotsTaken} conf proposed=${s.confChanges} ` +
      `(+learner ${s.learnersAdded}, promoted ${s.promoted}, removed ${s.removed}) ` +
      `transfers=${s.transfers} checks=${s.checks}`,
  ].join("\n");
}

async function main() {
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let run;
  try {
    run = await import("../dist/raft/sim/run.js");
  } catch (err) {
    console.error(`sim: cannot load dist/raft/sim/run.js (run \`npx tsc -p tsconfig.json\` first): ${err.message}`);
    return 2;
  }
  if (values.seed !== undefined) {
    const seed = int("seed", values.seed);
    const trace = values.quiet ? null : (line) => process.stdout.write(`${line}\n`);
    const r = await run.runSeed(seed, {}, trace);
    console.log(`seed ${seed}: ${r.ok ? "PASS" : `FAIL ${r.property}: ${r.message}`} at t=${r.tick}`);
    console.log(summary(r));
    return r.ok ? 0 : 1;
  }
  if (values.seeds === undefined) {
    console.error(USAGE);
    return 2;
  }
  const count = int("seeds", values.seeds);
  const first = values["first-seed"] === undefined ? 1 : int("first-seed", values["first-seed"]);
  const block = await run.runSeeds(first, count);
  const perSeed = block.ran === 0 ? 0 : block.elapsedMs / block.ran;
  const elapsed = `${(block.elapsedMs / 1000).toFixed(1)} s (${perSeed.toFixed(0)} ms/seed)`;
  console.log(`ran ${block.ran} seeds (${first}..${first + block.ran - 1}), passed ${block.passed}, ${elapsed}`);
  if (block.failure === null) return 0;
  const f = block.failure;
  console.log(`FAIL seed ${f.seed} at t=${f.tick}: ${f.property}: ${f.message}`);
  console.log(`replay: node scripts/sim.mjs --seed ${f.seed}`);
  return 1;
}

// exitCode rather than exit(): a long trace piped into a pager must be flushed completely.
process.exitCode = await main();
