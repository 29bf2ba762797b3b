// checkVolumeReplicas (src/master/repair/check-disk.ts) against two real volume servers in this
// process (standalone: each write stays local, so the replicas differ as the test makes them):
// dry run, apply, deletes only with syncDeletes, and the needs-check flag cleared only when no
// newer failure came during the check.
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { CheckCallError } from "../../../src/master/repair/check-calls.js";
import { checkVolumeReplicas, type ReplicaEndpoint } from "../../../src/master/repair/check-disk.js";
import { startVolumeServer, type Started } from "./helpers.js";

const VID = 5;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function twoReplicas(fileSizeLimitMB = 1): Promise<[Started, Started]> {
  const out: Started[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await startVolumeServer({ fileSizeLimitMB });
    cleanups.push(() => s.close());
    await s.admin.allocateVolume({ volumeId: VID, replication: "010" });
    out.push(s);
  }
  return [out[0]!, out[1]!];
}

const endpoint = (s: Started): ReplicaEndpoint => ({
  url: `127.0.0.1:${s.vs.httpPort}`,
  grpcAddress: `127.0.0.1:${s.vs.grpcPort}`,
});

async function http(s: Started, method: "GET" | "PUT" | "DELETE", fid: string, body?: string) {
  const r = await request(`${s.base}/${fid}`, { method, ...(body === undefined ? {} : { body }) });
  return { status: r.statusCode, etag: r.headers["etag"], text: await r.body.text() };
}

/** k1 on A only, k2 on B only, k3 on both then deleted on A: three differences. */
async function diverge(a: Started, b: Started): Promise<void> {
  expect((await http(a, "PUT", `${VID},01cafe0001`, "only on A")).status).toBe(201);
  expect((await http(b, "PUT", `${VID},02cafe0002`, "only on B")).status).toBe(201);
  for (const s of [a, b]) expect((await http(s, "PUT", `${VID},03cafe0003`, "on both")).status).toBe(201);
  expect((await http(a, "DELETE", `${VID},03cafe0003`)).status).toBe(202);
}

describe("checkVolumeReplicas", () => {
  it("a dry run reports and changes nothing; apply converges and clears the flag", async () => {
    const [a, b] = await twoReplicas();
    await diverge(a, b);
    a.vs.store.markNeedsCheck(VID);
    const lines: string[] = [];
    const dry = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], {
      apply: false,
      syncDeletes: true,
      say: (l) => lines.push(l),
    });
    expect(dry).toEqual({ volumeId: VID, differences: 3, copied: 0, deleted: 0, converged: false, inFlight: 0 });
    expect(lines.join("\n")).toMatch(/missed 1 and partially deleted 1/);
    expect((await http(b, "GET", `${VID},01cafe0001`)).status).toBe(404);
    expect(a.vs.store.volumeInfo(VID)!.needsCheck).toBe(true);

    const fix = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], { apply: true, syncDeletes: true });
    expect(fix).toEqual({ volumeId: VID, differences: 3, copied: 2, deleted: 1, converged: true, inFlight: 0 });
    for (const fid of [`${VID},01cafe0001`, `${VID},02cafe0002`]) {
      const [x, y] = [await http(a, "GET", fid), await http(b, "GET", fid)];
      expect([x.status, y.status, x.text === y.text, x.etag === y.etag]).toEqual([200, 200, true, true]);
    }
    expect((await http(b, "GET", `${VID},03cafe0003`)).status).toBe(404);
    expect(a.vs.store.volumeInfo(VID)!.needsCheck).toBe(false);
  });

  it("keeps the flag when a replicated write failed again during the check", async () => {
    const [a, b] = await twoReplicas();
    await diverge(a, b);
    a.vs.store.markNeedsCheck(VID);
    let failedAgain = false;
    const r = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], {
      apply: true,
      syncDeletes: true,
      say: () => {
        if (failedAgain) return;
        failedAgain = true;
        a.vs.store.markNeedsCheck(VID); // after the generation was read, before the check ends
      },
    });
    expect(r.converged).toBe(true);
    expect(a.vs.store.volumeInfo(VID)!.needsCheck).toBe(true);
    const next = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], { apply: true, syncDeletes: true });
    expect(next).toMatchObject({ differences: 0, converged: true, inFlight: 0 });
    expect(a.vs.store.volumeInfo(VID)!.needsCheck).toBe(false);
  });

  it("without syncDeletes a newer tombstone is reported, not applied, and the replicas are not converged", async () => {
    const [a, b] = await twoReplicas();
    await diverge(a, b);
    const r = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], { apply: true, syncDeletes: false });
    expect(r).toEqual({ volumeId: VID, differences: 3, copied: 2, deleted: 0, converged: false, inFlight: 0 });
    expect((await http(b, "GET", `${VID},03cafe0003`)).status).toBe(200);
  });

  it("copies a needle larger than grpc-js's default 4 MiB message (a 6 MiB upload), byte-identical", async () => {
    const [a, b] = await twoReplicas(8);
    const big = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const put = await request(`${a.base}/${VID},04cafe0004`, { method: "PUT", body: big });
    expect([put.statusCode, await put.body.text()]).toEqual([201, expect.any(String)]);
    const fix = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], { apply: true, syncDeletes: true });
    expect(fix).toEqual({ volumeId: VID, differences: 1, copied: 1, deleted: 0, converged: true, inFlight: 0 });
    const got = await request(`${b.base}/${VID},04cafe0004`);
    expect(got.statusCode).toBe(200);
    expect(Buffer.from(await got.body.arrayBuffer()).equals(big)).toBe(true);
  });

  it("a replica that cannot be reached fails the check with CheckCallError", async () => {
    const [a] = await twoReplicas();
    const gone: ReplicaEndpoint = { url: "127.0.0.1:1", grpcAddress: "127.0.0.1:1" };
    await expect(checkVolumeReplicas(VID, [endpoint(a), gone], { apply: true, syncDeletes: true })).rejects.toThrow(
      CheckCallError,
    );
  });
});
