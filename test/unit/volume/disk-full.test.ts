// A full disk retires its volumes (issue 9 item 8a), with a real master and a volume server whose
// directory is a real 8 MiB tmpfs, over loopback: below -minFreeSpace every volume turns read-only
// in the master's view and assigns stop; space back, they take writes again. A write that finds
// the disk full answers 507 JSON and retires that volume at once; earlier blobs still read back.
// Mounting needs root (CI runs as root); elsewhere each test skips, saying so.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import type { MasterServer } from "../../../src/master/master-server.js";
import { parseMinFreeSpace } from "../../../src/volume/storage/disk-space.js";
import { VolumeServer } from "../../../src/volume/volume-server.js";
import { silentLogger } from "../../../src/common/logger.js";
import { tempDir, waitFor, type TempDir } from "../../helpers.js";
import { startMaster } from "../master/helpers.js";
import { fillUntil, freeBytes, mountTmpfs, tmpfsUnavailable, type Tmpfs } from "./tmpfs.js";

const mebibyte = 1024 * 1024;

interface Cluster {
  master: MasterServer;
  vs: VolumeServer;
  disk: Tmpfs;
  masterUrl: string;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startCluster(minFreeSpace: string): Promise<Cluster> {
  const mdir: TempDir = await tempDir("weed-diskfull-master-");
  cleanups.push(() => mdir.remove());
  const master = await startMaster(mdir.dir);
  cleanups.push(() => master.close());
  const disk = await mountTmpfs(8 * mebibyte);
  cleanups.push(() => disk.remove());
  const vs = new VolumeServer({
    ip: "127.0.0.1",
    bindIp: "127.0.0.1",
    port: 0,
    grpcPort: 0,
    publicUrl: "",
    dir: disk.dir,
    max: 4,
    masters: [`127.0.0.1:${master.httpPort}.${master.grpcPort}`],
    dataCenter: "",
    rack: "",
    fileSizeLimitMB: 4,
    fsync: false,
    heartbeatIntervalMs: 200,
    minFreeSpace: parseMinFreeSpace(minFreeSpace),
    diskSpaceCheckIntervalMs: 100,
    logger: silentLogger(),
  });
  await vs.start();
  cleanups.push(() => vs.close());
  return { master, vs, disk, masterUrl: `http://127.0.0.1:${master.httpPort}` };
}

async function json(url: string, init: { method?: "GET" | "PUT"; body?: Buffer } = {}) {
  const r = await request(url, { method: init.method ?? "GET", body: init.body ?? null });
  const text = await r.body.text();
  return { status: r.statusCode, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function assign(c: Cluster): Promise<{ status: number; fid: string; url: string; error: string }> {
  const r = await json(`${c.masterUrl}/dir/assign`);
  return { status: r.status, fid: String(r.json["fid"]), url: String(r.json["url"]), error: String(r.json["error"]) };
}

/** Assigns until it succeeds (the first growth takes a moment) and uploads `data` there. */
async function upload(c: Cluster, data: Buffer): Promise<{ fid: string; url: string }> {
  let a = await assign(c);
  for (let i = 0; i < 100 && a.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    a = await assign(c);
  }
  expect(a.status, a.error).toBe(200);
  const r = await json(`http://${a.url}/${a.fid}`, { method: "PUT", body: data });
  expect(r.status).toBe(201);
  return { fid: a.fid, url: a.url };
}

/** The master's view: volume id -> ReadOnly, from /vol/status. */
async function masterReadOnly(c: Cluster): Promise<Map<number, boolean>> {
  const r = await json(`${c.masterUrl}/vol/status`);
  const out = new Map<number, boolean>();
  const dcs = (r.json["Volumes"] as { DataCenters: Record<string, Record<string, Record<string, object[]>>> })
    .DataCenters;
  for (const racks of Object.values(dcs))
    for (const nodes of Object.values(racks))
      for (const vols of Object.values(nodes))
        for (const v of vols as { Id: number; ReadOnly: boolean }[]) out.set(v.Id, v.ReadOnly);
  return out;
}

function blob(seed: number, bytes: number): Buffer {
  return Buffer.alloc(bytes, seed);
}

describe("-minFreeSpace on a real filesystem", () => {
  it("retires every volume below it (master stops assigning), and brings them back when space returns", async (ctx) => {
    const why = tmpfsUnavailable();
    if (why !== undefined) return ctx.skip(why);
    const c = await startCluster("2MiB");
    const stored = [];
    for (let i = 0; i < 3; i++) stored.push({ ...(await upload(c, blob(i, 1000))), data: blob(i, 1000) });
    const spare = await assign(c); // a fid taken before the disk fills
    expect(spare.status).toBe(200);

    const filler = `${c.disk.dir}/filler`;
    fillUntil(filler, c.disk.dir, mebibyte); // 1 MiB left, under the 2 MiB minimum
    await waitFor(async () => [...(await masterReadOnly(c)).values()].every((ro) => ro), {
      what: "every volume read-only in the master's view",
    });
    expect((await masterReadOnly(c)).size).toBeGreaterThan(0);
    const refusedAssign = await assign(c);
    expect([406, 503]).toContain(refusedAssign.status);
    const refusedWrite = await json(`http://${spare.url}/${spare.fid}`, { method: "PUT", body: blob(9, 100) });
    expect(refusedWrite.status).toBe(507);
    expect(String(refusedWrite.json["error"])).toMatch(/read only: its disk is short of space \(-minFreeSpace/);
    for (const s of stored) {
      const g = await request(`http://${s.url}/${s.fid}`);
      expect(Buffer.from(await g.body.arrayBuffer()).equals(s.data)).toBe(true);
    }

    fs.rmSync(filler);
    await waitFor(async () => [...(await masterReadOnly(c)).values()].every((ro) => !ro), {
      what: "every volume writable again in the master's view",
    });
    await upload(c, blob(5, 1000));
    const again = await json(`http://${spare.url}/${spare.fid}`, { method: "PUT", body: blob(9, 100) });
    expect(again.status).toBe(201);
  });

  it("answers a write that finds the disk full 507 JSON and retires that volume at once", async (ctx) => {
    const why = tmpfsUnavailable();
    if (why !== undefined) return ctx.skip(why);
    const c = await startCluster("0"); // no minimum: only the ENOSPC says the disk is full
    const stored = [];
    for (let i = 0; i < 4; i++) stored.push({ ...(await upload(c, blob(i, 1000))), data: blob(i, 1000) });
    const target = await assign(c);
    const vid = Number(target.fid.split(",")[0]);
    const filler = `${c.disk.dir}/filler`;
    fillUntil(filler, c.disk.dir, 512 * 1024);
    expect(freeBytes(c.disk.dir)).toBeLessThan(mebibyte);

    const full = await json(`http://${target.url}/${target.fid}`, { method: "PUT", body: blob(7, 2 * mebibyte) });
    expect(full.status).toBe(507);
    expect(String(full.json["error"])).toMatch(/no space left on the device.*read-only until space returns/);
    expect(c.vs.store.volumeInfo(vid)!.readOnly).toBe(true);
    await waitFor(async () => (await masterReadOnly(c)).get(vid) === true, {
      what: `volume ${vid} read-only in the master's view`,
      timeoutMs: 1_000, // reported at once, not at the next 200 ms beat only
    });
    for (const s of stored) {
      const g = await request(`http://${s.url}/${s.fid}`);
      expect(Buffer.from(await g.body.arrayBuffer()).equals(s.data)).toBe(true);
    }
    const g = await request(`http://${target.url}/${target.fid}`);
    expect(g.statusCode).toBe(404); // nothing of the failed write is visible
    await g.body.dump();
    for (let i = 0; i < 10; i++) {
      const next = await assign(c);
      if (next.status === 200) expect(Number(next.fid.split(",")[0])).not.toBe(vid);
    }

    fs.rmSync(filler);
    await waitFor(async () => (await masterReadOnly(c)).get(vid) === false, {
      what: `volume ${vid} writable again once the disk has room`,
    });
    const retry = await json(`http://${target.url}/${target.fid}`, { method: "PUT", body: blob(7, 2 * mebibyte) });
    expect(retry.status).toBe(201);
  });
});
