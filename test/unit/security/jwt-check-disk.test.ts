// volume.check.disk on a [jwt.signing] cluster: its local deletes (HTTP `?type=replicate`) carry a
// token it mints from the key in its options; without the key the volume server refuses them and
// the check reports the replicas as not converged. Two in-process volume servers, standalone.
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { checkVolumeReplicas, type ReplicaEndpoint } from "../../../src/master/repair/check-disk.js";
import { FidTokenKey } from "../../../src/common/security/jwt.js";
import type { JwtSigning } from "../../../src/common/security/config.js";
import { startVolumeServer, type Started } from "../volume/helpers.js";

const VID = 7;
const signing: JwtSigning = { key: "check-disk-test-key", expiresAfterSeconds: 10 };
const tokens = new FidTokenKey(signing);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function twoSecuredReplicas(): Promise<[Started, Started]> {
  const out: Started[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await startVolumeServer({ security: { whiteList: [], jwtSigning: signing } });
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

async function http(s: Started, method: "GET" | "PUT" | "DELETE", fid: string, body?: string): Promise<number> {
  const headers = method === "GET" ? {} : { authorization: `Bearer ${await tokens.sign(fid)}` };
  const r = await request(`${s.base}/${fid}`, { method, headers, ...(body === undefined ? {} : { body }) });
  await r.body.dump();
  return r.statusCode;
}

/** A needle on both, then deleted on A only: the check must delete it on B. */
async function deletedOnOne(a: Started, b: Started): Promise<string> {
  const fid = `${VID},03cafe0003`;
  for (const s of [a, b]) expect(await http(s, "PUT", fid, "on both")).toBe(201);
  expect(await http(a, "DELETE", fid)).toBe(202);
  return fid;
}

describe("volume.check.disk against JWT-secured volume servers", () => {
  it("deletes with a token minted from CheckDiskOptions.jwtSigning, and converges", async () => {
    const [a, b] = await twoSecuredReplicas();
    const fid = await deletedOnOne(a, b);
    const r = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], {
      apply: true,
      syncDeletes: true,
      jwtSigning: signing,
    });
    expect(r).toMatchObject({ differences: 1, deleted: 1, converged: true });
    expect(await http(b, "GET", fid)).toBe(404);
  });

  it("without the key its delete is refused (401): reported, not converged, the needle still there", async () => {
    const [a, b] = await twoSecuredReplicas();
    const fid = await deletedOnOne(a, b);
    const lines: string[] = [];
    const r = await checkVolumeReplicas(VID, [endpoint(a), endpoint(b)], {
      apply: true,
      syncDeletes: true,
      say: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ differences: 1, deleted: 0, converged: false });
    expect(lines.join("\n")).toMatch(/401/);
    expect(await http(b, "GET", fid)).toBe(200);
  });
});
