// Repair and visibility (issue 11): VolumeCopy between real volume servers, `volume.list` and
// `volume.fix.replication` run as an operator runs them, against a master and volume servers on
// three racks.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { createClient } from "../../src/grpc/adapter.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const run = promisify(execFile);
let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
/** Volume servers by name; each on its own rack. */
const servers = new Map<string, { proc: WeedProcess; port: number }>();

async function startVolume(name: string, rack: string): Promise<void> {
  const port = await freePortPair();
  const proc = new WeedProcess([
    "volume",
    `-dir=${tmp.dir}/${name}`,
    "-ip=127.0.0.1",
    `-port=${port}`,
    `-mserver=127.0.0.1:${masterPort}`,
    "-max=6",
    `-rack=${rack}`,
    "-logLevel=warn",
  ]);
  servers.set(name, { proc, port });
  await waitHttpOk(`http://127.0.0.1:${port}/healthz`, proc);
  await waitFor(async () => (await nodeUrls()).includes(url(name)), { ...PROCESS_WAIT, what: `${name} registered` });
}

const url = (name: string): string => `127.0.0.1:${servers.get(name)!.port}`;
const grpcOf = (name: string): string => `127.0.0.1:${servers.get(name)!.port + 10000}`;

async function nodeUrls(): Promise<string[]> {
  const s = await getJson(`http://127.0.0.1:${masterPort}/dir/status`);
  const out: string[] = [];
  for (const dc of s.json.Topology.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) out.push(n.Url);
  return out;
}

async function holders(vid: number): Promise<string[]> {
  const l = await getJson(`http://127.0.0.1:${masterPort}/dir/lookup?volumeId=${vid}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

async function shell(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args], {
      timeout: 30_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

let nextKey = 1;
function fid(vid: number): string {
  return `${vid},${(nextKey++).toString(16)}${"1234abcd"}`;
}

async function put(server: string, f: string, body: Buffer): Promise<void> {
  const r = await request(`http://${url(server)}/${f}`, { method: "PUT", body });
  const text = await r.body.text();
  if (r.statusCode !== 201) throw new Error(`PUT ${f} to ${server}: ${r.statusCode} ${text}`);
}

/** Compared with Buffer.equals: vitest's toEqual walks a 1 MiB buffer byte by byte (seconds each). */
async function sameBytes(server: string, f: string, body: Buffer): Promise<boolean> {
  const got = await get(server, f);
  return got instanceof Buffer && got.equals(body);
}

async function get(server: string, f: string): Promise<Buffer | number> {
  const r = await request(`http://${url(server)}/${f}`);
  const body = Buffer.from(await r.body.arrayBuffer());
  return r.statusCode === 200 ? body : r.statusCode;
}

async function allocate(server: string, vid: number, replication: string): Promise<void> {
  const c = createClient(VolumeServer, grpcOf(server));
  try {
    await c.allocateVolume({ volumeId: vid, replication }, { timeoutMs: 5_000 });
  } finally {
    c.close();
  }
}

/** VolumeCopy of `vid` from `src` into `dst`; resolves with the last message. */
async function volumeCopy(dst: string, src: string, vid: number): Promise<{ catchUpRounds: number }> {
  const c = createClient(VolumeServer, grpcOf(dst));
  try {
    let last = { catchUpRounds: -1 };
    for await (const m of c.volumeCopy({ volumeId: vid, sourceDataNode: grpcOf(src) }, { timeoutMs: 30_000 }))
      last = m as { catchUpRounds: number };
    return last;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-volume-repair-");
  masterPort = await freePortPair();
  master = new WeedProcess(["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/healthz`, master);
  await Promise.all([startVolume("a", "r0"), startVolume("b", "r1"), startVolume("c", "r2")]);
});

afterAll(async () => {
  for (const s of servers.values()) await s.proc.stop();
  await master?.stop();
  await tmp?.remove();
});

describe("volume repair", () => {
  it("volume.fix.replication copies a lost 010 replica to a free server on another rack", async () => {
    const vid = 101;
    await allocate("a", vid, "010");
    await allocate("b", vid, "010");
    await waitFor(async () => (await holders(vid)).length === 2, { ...PROCESS_WAIT, what: "volume on a and b" });
    const blobs = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const f = fid(vid);
      const body = randomBytes(100 + i * 997);
      await put("a", f, body); // on a at least (and on b too once writes are replicated)
      blobs.set(f, body);
    }
    await servers.get("b")!.proc.stop(); // b and its copy are gone
    await waitFor(async () => (await holders(vid)).length === 1, { ...PROCESS_WAIT, what: "b dropped" });

    const list = await shell("volume.list");
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`volume id:${vid} .*replica_placement:10 .*under_replicated:1/2`));
    expect(list.out).toContain(`Rack r2`);

    const dry = await shell("volume.fix.replication");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`replicating volume ${vid} 010 from ${url("a")} to dataNode ${url("c")}`);
    expect(await holders(vid)).toEqual([url("a")]); // a dry run changes nothing

    const fix = await shell("volume.fix.replication", "-apply");
    expect(fix.code, fix.out).toBe(0);
    expect(await holders(vid)).toEqual([url("a"), url("c")].sort());
    for (const [f, body] of blobs) {
      expect(await sameBytes("a", f, body)).toBe(true);
      expect(await sameBytes("c", f, body)).toBe(true);
    }
    expect((await shell("volume.list")).out).not.toMatch(new RegExp(`volume id:${vid} .*under_replicated`));
    expect((await shell("volume.fix.replication", "-bogus")).code).not.toBe(0);
  });

  it("VolumeCopy catches up on writes that arrive during the copy; fix.replication trims the extra copy", async () => {
    const vid = 102;
    await allocate("a", vid, "000");
    const written: string[] = [];
    const bodies = new Map<string, Buffer>();
    const big = randomBytes(1024 * 1024);
    for (let i = 0; i < 80; i++) {
      const f = fid(vid);
      await put("a", f, big);
      written.push(f);
      bodies.set(f, big);
    }
    let copying = true;
    let writtenBeforeEnd = 0;
    const writer = (async () => {
      while (copying) {
        const f = fid(vid);
        const body = randomBytes(4096);
        await put("a", f, body);
        written.push(f);
        bodies.set(f, body);
      }
    })();
    const startedWith = written.length;
    const result = await volumeCopy("c", "a", vid);
    writtenBeforeEnd = written.length;
    copying = false;
    await writer;
    expect(result.catchUpRounds).toBeGreaterThanOrEqual(1);
    // The copy holds a prefix of the writes, one that reaches past where the copy began.
    let present = 0;
    while (present < written.length && (await get("c", written[present]!)) instanceof Buffer) present++;
    expect(present).toBeGreaterThan(startedWith);
    for (let i = 0; i < present; i++) expect(await sameBytes("c", written[i]!, bodies.get(written[i]!)!)).toBe(true);
    for (let i = present; i < written.length; i++) expect(await get("c", written[i]!)).toBe(404);
    expect(writtenBeforeEnd).toBeGreaterThan(startedWith);

    await waitFor(async () => (await holders(vid)).length === 2, { ...PROCESS_WAIT, what: "copy reported" });
    const fix = await shell("volume.fix.replication", "-apply", `-collectionPattern=`);
    expect(fix.out).toContain(`volume ${vid} replication 000, but over replicated 2/1`);
    await waitFor(async () => (await holders(vid)).length === 1, { ...PROCESS_WAIT, what: "extra copy trimmed" });
  });

  it("a copy whose source is killed midway leaves nothing on the target", async () => {
    await startVolume("d", "r3");
    const vid = 103;
    await allocate("d", vid, "000");
    const big = randomBytes(1024 * 1024);
    for (let i = 0; i < 200; i++) await put("d", fid(vid), big);
    const dir = `${tmp.dir}/c`;
    const copy = volumeCopy("c", "d", vid).then(
      () => "finished",
      (err: Error) => err.message,
    );
    await waitFor(() => fs.readdirSync(dir).some((n) => n.endsWith(".dat.copying")), {
      timeoutMs: 10_000,
      intervalMs: 2,
      what: "copy under way",
    });
    await servers.get("d")!.proc.kill9();
    const outcome = await copy;
    expect(outcome).not.toBe("finished");
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(`${vid}.`))).toEqual([]);
    expect(await get("c", `${vid},1${"1234abcd"}`)).toBe(404);
  });
});
