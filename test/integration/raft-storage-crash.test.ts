// kill -9 in the middle of RaftStorage writes (dist/ code in a child process): after every crash
// the reopened store holds whole Readies only. Each Ready writes a group of entries tagged with
// its number plus a hard state whose commit is the group's last index; some Readies first replace
// a suffix (as after a leader change). A half-applied Ready would show as a partial group, a hard
// state that does not match the last entry, or a gap.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RaftStorage } from "../../src/raft/runtime/storage.js";
import type { Entry } from "../../src/raft/types.js";
import { tempDir, type TempDir } from "../helpers.js";

const DIST = resolve(import.meta.dirname, "../../dist/raft");
const GROUP = 100;
const CRASHES = 6;

// The child: append Readies forever (bounded), printing each one's number once it is durable.
const CHILD = `
import { RaftStorage } from ${JSON.stringify(`${DIST}/runtime/storage.js`)};
import { bootstrapState } from ${JSON.stringify(`${DIST}/raft-node.js`)};
const [dir, GROUP] = [process.argv[1], Number(process.argv[2])];
const s = new RaftStorage(dir);
await s.open();
let st = await s.load();
if (st === null) { await s.initialize(bootstrapState({ voters: ["a"], learners: [] })); st = await s.load(); }
let last = (st.snapshot?.meta.index ?? 0) + st.entries.length;
let term = Math.max(st.hardState.term, 1);
let n = Number(process.argv[3]);
const payload = "x".repeat(1000);
for (let round = 0; round < 10000; round++, n++) {
  let first = last + 1;
  if (round % 4 === 3 && last > 60) { first = last - 49; term++; }   // replace a 50-entry suffix
  const entries = [];
  for (let i = 0; i < GROUP; i++) {
    const data = new TextEncoder().encode("b" + n + ":" + i + ":" + payload);
    entries.push({ type: "normal", index: first + i, term, data });
  }
  last = first + GROUP - 1;
  const hardState = { term, vote: null, commit: last };
  await s.persist({
    softState: null, hardState, entries, snapshot: null,
    messages: [], committedEntries: [], readStates: [], mustSync: true,
  });
  process.stdout.write("ok " + n + "\\n");
}
`;

let tmp: TempDir | undefined;
let dir = "";

beforeAll(async () => {
  if (!existsSync(`${DIST}/runtime/storage.js`))
    throw new Error("dist/raft/runtime is missing: build first (npx tsc -p tsconfig.json)");
  tmp = await tempDir("raft-crash-");
  dir = tmp.dir;
});

afterAll(async () => {
  await tmp?.remove();
});

function tag(e: Entry): { n: number; i: number } {
  if (e.type !== "normal") throw new Error(`entry ${e.index} is ${e.type}`);
  const [b, i] = Buffer.from(e.data).toString().split(":");
  return { n: Number(b!.slice(1)), i: Number(i) };
}

/** Run the child until `killAfterOks` Readies are durable plus a random delay, then kill -9 it. */
function crashRun(startN: number, killAfterMs: number): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, dir, String(GROUP), String(startN)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let lastOk = startN - 1;
    let err = "";
    let timer: NodeJS.Timeout | null = null;
    child.stdout.on("data", (b: Buffer) => {
      for (const line of b.toString().split("\n")) if (line.startsWith("ok ")) lastOk = Number(line.slice(3));
      if (timer === null) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code, signal) => {
      clearTimeout(guard);
      if (timer !== null) clearTimeout(timer);
      if (signal !== "SIGKILL") rej(new Error(`child exited ${code}: ${err}`));
      else res(lastOk);
    });
  });
}

describe("RaftStorage under kill -9", () => {
  it("never leaves half a Ready on disk", async () => {
    let nextN = 1;
    for (let crash = 0; crash < CRASHES; crash++) {
      const lastAcked = await crashRun(nextN, 30 + Math.floor(Math.random() * 150));
      const store = new RaftStorage(dir);
      await store.open();
      const st = await store.load();
      await store.close();
      expect(st).not.toBeNull();
      const entries = st!.entries;
      const last = entries[entries.length - 1]!;
      const lastTag = tag(last);
      // The newest Ready on disk is complete, at least as new as the last one reported durable,
      // and its hard state came with it.
      expect(lastTag.i).toBe(GROUP - 1);
      expect(lastTag.n).toBeGreaterThanOrEqual(lastAcked);
      expect(st!.hardState.commit).toBe(last.index);
      expect(st!.hardState.term).toBe(last.term);
      // Every group on disk is a contiguous run of one Ready's entries (a prefix of it when a later
      // Ready replaced its tail), in order.
      let prev: { n: number; i: number } | null = null;
      for (const e of entries.slice(1)) {
        const t = tag(e);
        if (prev !== null && t.n === prev.n) expect(t.i).toBe(prev.i + 1);
        else expect(t.i === 0 || prev === null).toBe(true);
        if (prev !== null) expect(t.n).toBeGreaterThanOrEqual(prev.n);
        prev = t;
      }
      nextN = lastTag.n + 1;
    }
  });
});
