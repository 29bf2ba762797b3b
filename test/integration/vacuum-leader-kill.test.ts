// A leader killed (kill -9) in the middle of a vacuum pass (issue 13): three masters, two volume
// servers (replication 001). The leader's /vol/vacuum is under way (a compaction's .cpd is on
// disk) when the leader dies. Its volume servers drop or keep their partial copies, nothing is
// committed half way; the new leader's pass vacuums what is left, and every blob reads back.
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const COLLECTION = "lk";
const BLOBS = 300;
const BLOB_BYTES = 16 * 1024;
/** How often the volume directories are looked at for a compaction under way. */
const POLL_MS = 2;
const COMPACTION_WAIT_MS = 30_000;

let tmp: TempDir;
const masters: { port: number; proc: WeedProcess }[] = [];
const volumes: { port: number; proc: WeedProcess; dir: string }[] = [];
let peers: string;

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 60_000, bodyTimeout: 60_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, body, text: body.toString("utf8") };
}

async function leaderPort(): Promise<number> {
  return eventually(
    async () => {
      for (const m of masters) {
        if (m.proc.exited) continue;
        const s = await getJson(`http://127.0.0.1:${m.port}/cluster/raft`).catch(() => undefined);
        const leader = s?.json?.leader as string | null | undefined;
        const found = masters.find((x) => `127.0.0.1:${x.port}` === leader && !x.proc.exited);
        if (found !== undefined) return found.port;
      }
      throw new Error("no live leader yet");
    },
    { ...PROCESS_WAIT, what: "a live leader" },
  );
}

function compactionFiles(): string[] {
  return volumes.flatMap((v) => readdirSync(v.dir).filter((f) => /\.(cpd|cpx|cpc)$/.test(f)));
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-vacuum-kill-");
  for (let i = 0; i < 3; i++) masters.push({ port: await freePortPair(), proc: undefined as never });
  peers = masters.map((m) => `127.0.0.1:${m.port}`).join(",");
  for (const m of masters) {
    const args = ["master", `-mdir=${tmp.dir}/m${m.port}`, "-ip=127.0.0.1", `-port=${m.port}`, `-peers=${peers}`];
    m.proc = new WeedProcess([...args, "-vacuumPeriod=0", "-logLevel=warn"]);
  }
  for (const m of masters) await waitHttpOk(`http://127.0.0.1:${m.port}/healthz`, m.proc);
  for (let i = 0; i < 2; i++) {
    const port = await freePortPair();
    const dir = join(tmp.dir, `v${i}`);
    const args = ["volume", `-dir=${dir}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=${peers}`, "-max=10"];
    volumes.push({ port, dir, proc: new WeedProcess([...args, "-logLevel=warn"]) });
  }
  const leader = await leaderPort();
  await waitFor(
    async () => {
      const s = await getJson(`http://127.0.0.1:${leader}/dir/status`);
      return JSON.stringify(s.json).split('"Url"').length - 1 >= 2;
    },
    { ...PROCESS_WAIT, what: "both volume servers registered" },
  );
}, 60_000);

afterAll(async () => {
  for (const p of [...masters.map((m) => m.proc), ...volumes.map((v) => v.proc)]) await p?.stop();
  await tmp?.remove();
});

async function writeBlobs(leader: number): Promise<Map<string, { url: string; content: Buffer }>> {
  const blobs = new Map<string, { url: string; content: Buffer }>();
  for (let i = 0; i < BLOBS; i++) {
    const a = await send(`http://127.0.0.1:${leader}/dir/assign?collection=${COLLECTION}&replication=001`);
    expect(a.status, a.text).toBe(200);
    const { fid, url } = JSON.parse(a.text) as { fid: string; url: string };
    const content = randomBytes(BLOB_BYTES);
    const form = new FormData();
    form.set("file", new Blob([content]), "b.bin");
    expect((await send(`http://${url}/${fid}`, { method: "POST", body: form })).status).toBe(201);
    blobs.set(fid, { url, content });
  }
  return blobs;
}

describe("vacuum and a leader kill", () => {
  it("a leader killed mid-pass leaves nothing half done; the next leader's pass finishes the job", async () => {
    const leader = await leaderPort();
    const blobs = await writeBlobs(leader);
    const vids = new Set([...blobs.keys()].map((fid) => fid.split(",")[0]!));
    let n = 0;
    for (const [fid, b] of [...blobs]) {
      if (n++ % 4 === 0) continue;
      expect((await send(`http://${b.url}/${fid}`, { method: "DELETE" })).status).toBe(202);
      blobs.delete(fid);
    }
    // The pass starts; its answer never comes (the leader dies), so it is not awaited.
    void send(`http://127.0.0.1:${leader}/vol/vacuum?garbageThreshold=0.3`).catch(() => undefined);
    const until = performance.now() + COMPACTION_WAIT_MS;
    while (compactionFiles().length === 0 && performance.now() < until)
      await new Promise((r) => setTimeout(r, POLL_MS));
    expect(compactionFiles().length, "a compaction under way").toBeGreaterThan(0);
    await masters.find((m) => m.port === leader)!.proc.kill9();

    const next = await leaderPort();
    expect(next).not.toBe(leader);
    // The new leader's pass covers what its topology holds: wait until both servers have
    // reported every volume of the collection to it (a pass run earlier would skip the rest).
    await waitFor(
      async () => {
        for (const vid of vids) {
          const l = await getJson(`http://127.0.0.1:${next}/dir/lookup?volumeId=${vid}`).catch(() => undefined);
          if ((l?.json?.locations ?? []).length < 2) return false;
        }
        return true;
      },
      { what: "the new leader knows both replicas of every volume", ...PROCESS_WAIT, timeoutMs: 30_000 },
    );
    // Passes until one finds nothing left to do; none may fail (a compaction the old leader left
    // running may still be ending on its server: that volume is vacuumed by a later pass).
    const vacuumed = new Set<number>();
    await eventually(
      async () => {
        const r = await send(`http://127.0.0.1:${next}/vol/vacuum?garbageThreshold=0.3`);
        if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
        const done = JSON.parse(r.text).Vacuumed as { volumeId: number; result: string; error?: string }[];
        for (const o of done) if (o.result === "vacuumed") vacuumed.add(o.volumeId);
        if (done.length > 0) throw new Error(`this pass touched ${JSON.stringify(done)}: once more`);
      },
      { what: "a pass on the new leader with nothing left to do", timeoutMs: 60_000, intervalMs: 1_000 },
    );
    // Nothing left half done: no compaction file, every blob on both replicas.
    await waitFor(() => compactionFiles().length === 0, { what: "no .cpd/.cpx/.cpc left", timeoutMs: 10_000 });
    for (const [fid, b] of blobs) {
      for (const v of volumes) {
        const r = await send(`http://127.0.0.1:${v.port}/${fid}`);
        expect(r.status, `${fid} on ${v.port}`).toBe(200);
        expect(r.body.equals(b.content)).toBe(true);
      }
    }
    // The old leader's pass was cut short: the new one had volumes left to vacuum.
    expect(vacuumed.size).toBeGreaterThan(0);
  }, 180_000);
});
