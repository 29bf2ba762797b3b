// `weed-ts master.raft` on real master processes: dump a stopped master's Raft directory, refuse
// to touch a running one, and recover a 3-master group from the loss of its majority by rewriting
// one survivor's membership: it leads alone, hands out no file id twice, and old blobs still read.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

/** One run of the offline tool: it opens one LevelDB and exits. */
const TOOL_TIMEOUT_MS = 20_000;
/** A lone master with a rewritten membership must lead within this long (election: ~0.3-0.6 s). */
const LEAD_ALONE_BOUND_MS = 10_000;
/**
 * Assign/submit are retried (no leader yet, warming up, volume server still reporting) for this
 * long: after all masters were down, volume servers reconnect with backoff.
 */
const WRITABLE_WAIT = { timeoutMs: 30_000, intervalMs: 500 } as const;

interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runTool(args: string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "master.raft", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), TOOL_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function dumpJson(mdir: string): Promise<any> {
  const r = await runTool([`-mdir=${mdir}`, "dump", "-json"]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function startMaster(mdir: string, port: number, peers: string): WeedProcess {
  const args = ["master", `-mdir=${mdir}`, "-ip=127.0.0.1", `-port=${port}`, "-logLevel=warn"];
  if (peers !== "") args.push(`-peers=${peers}`);
  return new WeedProcess(args);
}

async function statusOf(port: number): Promise<{ IsLeader: boolean; Leader: string } | undefined> {
  try {
    const r = await getJson(`http://127.0.0.1:${port}/cluster/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    return r.status === 200 ? r.json : undefined;
  } catch {
    return undefined;
  }
}

/** Hex key of a fid "vid,keycookie" (the cookie is the last 8 hex digits). */
function keyOf(fid: string): bigint {
  const kc = fid.split(",")[1]!;
  return BigInt(`0x${kc.slice(0, -8)}`);
}

function assignOk(port: number): Promise<string> {
  return eventually(
    async () => {
      const a = await getJson(`http://127.0.0.1:${port}/dir/assign`);
      if (a.status !== 200) throw new Error(`${a.status} ${JSON.stringify(a.json)}`);
      return String(a.json.fid);
    },
    { ...WRITABLE_WAIT, what: `an assign from 127.0.0.1:${port}` },
  );
}

function submitOk(port: number, content: Buffer): Promise<{ fid: string; fileUrl: string }> {
  return eventually(
    async () => {
      const form = new FormData();
      form.append("file", new Blob([content]), "blob.bin");
      const r = await request(`http://127.0.0.1:${port}/submit`, {
        method: "POST",
        body: form,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const json = (await r.body.json()) as any;
      if (r.statusCode !== 201) throw new Error(`${r.statusCode} ${JSON.stringify(json)}`);
      return { fid: String(json.fid), fileUrl: String(json.fileUrl) };
    },
    { ...WRITABLE_WAIT, what: `a submit through 127.0.0.1:${port}` },
  );
}

async function readBack(fileUrl: string): Promise<Buffer> {
  const r = await request(`http://${fileUrl}`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  expect(r.statusCode).toBe(200);
  return body;
}

let tmp: TempDir;
let root: string;
const started: WeedProcess[] = [];

function track(p: WeedProcess): WeedProcess {
  started.push(p);
  return p;
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-raft-tool-");
  root = tmp.dir;
});

afterAll(async () => {
  for (const p of started.reverse()) await p.stop();
  await tmp?.remove();
});

describe("master.raft on a single master", () => {
  let port: number;
  let mdir: string;
  let master: WeedProcess;

  beforeAll(async () => {
    port = await freePortPair();
    mdir = `${root}/single`;
    master = track(startMaster(mdir, port, ""));
    await waitHttpOk(`http://127.0.0.1:${port}/cluster/status`, master);
    // Without a volume server these fail ("no free volumes"); the leader's Raft log has its
    // noop, cluster id and first key reservation all the same.
    for (let i = 0; i < 3; i++) await getJson(`http://127.0.0.1:${port}/dir/assign`);
  });

  it("refuses dump and rewrite while the master runs", async () => {
    const dump = await runTool([`-mdir=${mdir}`, "dump"]);
    expect(dump.status).toBe(1);
    expect(dump.stderr).toContain(`${mdir} is in use`);
    const rewrite = await runTool([`-mdir=${mdir}`, "rewrite", `-peers=127.0.0.1:${port}`]);
    expect(rewrite.status).toBe(1);
    expect(rewrite.stderr).toContain(`${mdir} is in use`);
    expect(master.exited).toBe(false);
  });

  it("refuses a second master on the same -mdir, naming the first one's pid", async () => {
    const other = track(startMaster(mdir, await freePortPair(), ""));
    expect(await other.exit()).toBe(1);
    expect(other.logs()).toContain(`${mdir} is in use by a running process, pid ${master.pid}`);
    expect(master.exited).toBe(false);
  });

  it("names the running master's pid when refusing (master.lock), and records its id (master.id)", async () => {
    const rewrite = await runTool([`-mdir=${mdir}`, "rewrite", `-peers=127.0.0.1:${port}`]);
    expect(rewrite.status).not.toBe(0);
    expect(rewrite.stderr).toContain(`pid ${master.pid}`);
    await master.stop();
    expect((await dumpJson(mdir)).id).toBe(`127.0.0.1:${port}`);
  });

  it("dumps the stopped master's term, commit, membership and state, as text and JSON", async () => {
    await master.stop();
    const s = await dumpJson(mdir);
    expect(s.term).toBeGreaterThanOrEqual(1);
    expect(s.membership).toEqual({ voters: [`127.0.0.1:${port}`], learners: [] });
    expect(s.commit).toBeGreaterThanOrEqual(1);
    expect(s.lastIndex).toBeGreaterThanOrEqual(s.commit);
    expect(s.snapshot).not.toBeNull();
    expect(s.topologyId).not.toBe("");
    expect(s.fileKeyCeiling).toBeGreaterThan(0);

    const text = await runTool([`-mdir=${mdir}`, "dump"]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^term: +${s.term}$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^commit: +${s.commit}$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^voters: +127\\.0\\.0\\.1:${port}$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^topologyId: +${s.topologyId}$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^fileKeyCeiling: +${s.fileKeyCeiling}$`, "m"));
  });

  it("answers a bad command line with exit 2 and a missing directory with exit 1, creating nothing", async () => {
    const noAction = await runTool([`-mdir=${mdir}`]);
    expect(noAction.status).toBe(2);
    expect(noAction.stderr).toContain("missing action");
    const bad = await runTool([`-mdir=${mdir}`, "frobnicate"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('"frobnicate"');
    const noMdir = await runTool(["dump"]);
    expect(noMdir.status).toBe(2);
    expect(noMdir.stderr).toContain("-mdir");
    const noPeers = await runTool([`-mdir=${mdir}`, "rewrite"]);
    expect(noPeers.status).toBe(2);
    const missing = await runTool([`-mdir=${root}/nowhere`, "dump"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("holds no Raft state");
    await expect(access(`${root}/nowhere`)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("master.raft rewrite after losing a majority of three masters", () => {
  const ports: number[] = [];
  const mdirs: string[] = [];
  const masters: WeedProcess[] = [];
  let peers: string;
  let volumePort: number;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      ports.push(await freePortPair());
      mdirs.push(`${root}/ha${i}`);
    }
    volumePort = await freePortPair();
    peers = ports.map((p) => `127.0.0.1:${p}`).join(",");
  });

  it(
    "the rewritten survivor leads alone, issues only new file keys, and old blobs still read back",
    { timeout: 120_000 },
    async () => {
      for (let i = 0; i < 3; i++) masters.push(track(startMaster(mdirs[i]!, ports[i]!, peers)));
      for (let i = 0; i < 3; i++) await waitHttpOk(`http://127.0.0.1:${ports[i]}/cluster/status`, masters[i]);
      const volume = track(
        new WeedProcess([
          "volume",
          `-dir=${root}/vol`,
          "-ip=127.0.0.1",
          `-port=${volumePort}`,
          `-mserver=${peers}`,
          "-max=8",
          "-logLevel=warn",
        ]),
      );
      await waitHttpOk(`http://127.0.0.1:${volumePort}/healthz`, volume);

      const blobs: { fid: string; fileUrl: string; content: Buffer }[] = [];
      for (let i = 0; i < 6; i++) {
        const content = randomBytes(200 + i);
        blobs.push({ ...(await submitOk(ports[i % 3]!, content)), content });
      }
      const oldFids = blobs.map((b) => b.fid);
      for (let i = 0; i < 12; i++) oldFids.push(await assignOk(ports[i % 3]!));
      const maxOldKey = oldFids.map(keyOf).reduce((a, b) => (a > b ? a : b));

      // Quiesce: every master holds the same log before they go, and master 1 (index 0) stops
      // last, so whatever commits while the others stop is on it too.
      await waitFor(
        async () => {
          const all = await Promise.all(
            ports.map(async (p) => (await getJson(`http://127.0.0.1:${p}/cluster/raft`)).json),
          );
          return all.every((s) => s.lastIndex === all[0].lastIndex && s.commit === all[0].lastIndex);
        },
        { ...PROCESS_WAIT, what: "all three masters hold the same log" },
      );
      for (const i of [1, 2, 0]) await masters[i]!.stop();

      // What an operator checks first: the survivor to rewrite holds every entry the others committed.
      const dumps = await Promise.all(mdirs.map(dumpJson));
      for (const d of dumps) expect(d.membership.voters).toEqual([...ports].map((p) => `127.0.0.1:${p}`).sort());
      for (const d of dumps.slice(1)) expect(dumps[0].lastIndex).toBeGreaterThanOrEqual(d.commit);
      expect(BigInt(dumps[0].fileKeyCeiling)).toBeGreaterThanOrEqual(maxOldKey);

      const me = `127.0.0.1:${ports[0]}`;
      const rw = await runTool([`-mdir=${mdirs[0]}`, "rewrite", `-peers=${me}`]);
      expect(rw.status, rw.stderr).toBe(0);
      expect(rw.stdout).toContain(`-> voters=[${me}]`);
      expect(rw.stdout).toContain("WARNING");
      const after = await dumpJson(mdirs[0]!);
      expect(after.membership).toEqual({ voters: [me], learners: [] });
      expect(after).toMatchObject({
        entries: 0,
        commit: dumps[0].lastIndex,
        lastIndex: dumps[0].lastIndex,
        term: dumps[0].term,
        vote: dumps[0].vote,
      });
      expect(after.snapshot.index).toBe(dumps[0].lastIndex);
      // Uncommitted reservations at the end of its log (a last leader's, as the others stopped)
      // are kept: they may have been handed out.
      expect(after.fileKeyCeiling).toBeGreaterThanOrEqual(dumps[0].fileKeyCeiling);

      // Same flags as before: with Raft state on disk, -peers no longer decides the membership.
      const since = Date.now();
      masters[0] = track(startMaster(mdirs[0]!, ports[0]!, peers));
      await waitFor(async () => (await statusOf(ports[0]!))?.IsLeader === true, {
        timeoutMs: LEAD_ALONE_BOUND_MS,
        intervalMs: 50,
        what: "the rewritten master leads alone",
      });
      expect(Date.now() - since).toBeLessThan(LEAD_ALONE_BOUND_MS);

      const newFids: string[] = [];
      for (let i = 0; i < 10; i++) newFids.push(await assignOk(ports[0]!));
      const fresh = randomBytes(333);
      const submitted = await submitOk(ports[0]!, fresh);
      newFids.push(submitted.fid);
      for (const fid of newFids)
        expect(keyOf(fid) > maxOldKey, `${fid} reuses a key at or below ${maxOldKey.toString(16)}`).toBe(true);
      expect(new Set([...oldFids, ...newFids]).size).toBe(oldFids.length + newFids.length);

      for (const b of blobs) expect((await readBack(b.fileUrl)).equals(b.content)).toBe(true);
      expect((await readBack(submitted.fileUrl)).equals(fresh)).toBe(true);
      const vid = blobs[0]!.fid.split(",")[0];
      const lookup = await eventually(
        async () => {
          const l = await getJson(`http://127.0.0.1:${ports[0]}/dir/lookup?volumeId=${vid}`);
          if (!(l.status === 200 && l.json.locations?.length > 0))
            throw new Error(`${l.status} ${JSON.stringify(l.json)}`);
          return l.json;
        },
        { ...PROCESS_WAIT, what: "the old volume is known to the lone master" },
      );
      expect(lookup.locations[0].url).toBe(`127.0.0.1:${volumePort}`);
    },
  );
});
