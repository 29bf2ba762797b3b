// The admin credential ([jwt.admin] key, issue 12) on real processes: three masters and a volume
// server started with one security.toml holding an admin key. The cluster forms with masters
// joining through -peers (each join carries an admin token minted from the file). Without a
// valid admin token, /vol/grow and membership changes answer 401 (at a follower too) and gRPC
// VolumeDelete/AllocateVolume answer UNAUTHENTICATED, with nothing changed; with a token minted
// here they work, and the leader's own AllocateVolume calls carry one. The shell with -security
// restores a lost replica (volume.fix.replication -apply: its VolumeCopy, a server stream, carries
// the token) and transfers the leadership; without -security both are refused.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { AdminTokenKey } from "../../src/common/security/admin-token.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { Seaweed } from "../../src/gen/master_pb.js";
import { createClient, GrpcCallError } from "../../src/grpc/adapter.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPairs, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const ADMIN_KEY = "admin-key-of-this-test";
const admin = new AdminTokenKey(ADMIN_KEY);
let tmp: TempDir;
let securityFile = "";
const masters: { id: string; proc: WeedProcess }[] = [];
let volume: { url: string; grpc: string; dir: string; proc: WeedProcess } | undefined;
let second: WeedProcess | undefined;

interface RaftStatus {
  id: string;
  role: string;
  leader: string | null;
  members: { id: string; suffrage: string }[];
}

const raft = async (id: string): Promise<RaftStatus> => (await getJson(`http://${id}/cluster/raft`)).json as RaftStatus;

async function leader(): Promise<RaftStatus> {
  return eventually(
    async () => {
      for (const m of masters) {
        const s = await raft(m.id).catch(() => undefined);
        if (s?.role === "leader") return s;
      }
      throw new Error("no leader yet");
    },
    { ...PROCESS_WAIT, what: "a leader" },
  );
}

const voters = (s: RaftStatus): string[] =>
  s.members
    .filter((m) => m.suffrage === "voter")
    .map((m) => m.id)
    .sort();

async function post(url: string, authorization?: string): Promise<{ status: number; json: any }> {
  const headers = authorization === undefined ? {} : { authorization };
  const r = await request(url, { method: "POST", headers, headersTimeout: 40_000, bodyTimeout: 40_000 });
  const text = await r.body.text();
  return { status: r.statusCode, json: text === "" ? undefined : JSON.parse(text) };
}

function shell(master: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, "shell", `-master=${master}`, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const datFiles = (dir = volume!.dir): string[] => readdirSync(dir).filter((f) => f.endsWith(".dat"));
const maxVolumeId = async (): Promise<number> =>
  (await getJson(`http://${(await leader()).id}/cluster/status`)).json.MaxVolumeId as number;

beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-admin-");
  securityFile = `${tmp.dir}/security.toml`;
  await writeFile(securityFile, `[jwt.admin]\nkey = "${ADMIN_KEY}"\n`);
  const [pa, pb, pc, pv] = (await freePortPairs(4)) as [number, number, number, number];
  const start = (port: number, peers: string): void => {
    const args = ["master", `-mdir=${tmp.dir}/m${port}`, "-ip=127.0.0.1", `-port=${port}`];
    if (peers !== "") args.push(`-peers=${peers}`);
    const proc = new WeedProcess([...args, `-security=${securityFile}`, "-logLevel=warn"]);
    masters.push({ id: `127.0.0.1:${port}`, proc });
  };
  start(pa, "");
  await waitHttpOk(`http://127.0.0.1:${pa}/healthz`, masters[0]!.proc);
  // b joins through a (the leader), c through b (a follower: the forwarded add keeps its token).
  start(pb, `127.0.0.1:${pa}`);
  start(pc, `127.0.0.1:${pb}`);
  const ids = masters.map((m) => m.id).sort();
  await waitFor(async () => JSON.stringify(voters(await leader())) === JSON.stringify(ids), {
    ...PROCESS_WAIT,
    timeoutMs: 40_000,
    what: "three voters",
  });
  const dir = `${tmp.dir}/v`;
  const args = ["volume", `-dir=${dir}`, "-ip=127.0.0.1", `-port=${pv}`, `-mserver=${ids.join(",")}`, "-max=20"];
  const proc = new WeedProcess([...args, `-security=${securityFile}`, "-logLevel=warn"]);
  volume = { url: `127.0.0.1:${pv}`, grpc: `127.0.0.1:${pv + 10000}`, dir, proc };
  await waitHttpOk(`http://${volume.url}/healthz`, proc);
  await waitFor(async () => ((await getJson(`http://${(await leader()).id}/dir/status`)).json.Topology.Free ?? 0) > 0, {
    ...PROCESS_WAIT,
    what: "the volume server registered",
  });
}, 90_000);

afterAll(async () => {
  await second?.stop();
  await volume?.proc.stop();
  for (const m of masters) await m.proc.stop();
  await tmp?.remove();
});

describe("[jwt.admin] key", () => {
  it("administration without a valid admin token is refused with 401, at the leader and a follower", async () => {
    const l = await leader();
    const follower = masters.find((m) => m.id !== l.id)!.id;
    const maxBefore = await maxVolumeId();
    const datBefore = datFiles();
    const other = new AdminTokenKey("another key");
    const tokens: [string | undefined, RegExp][] = [
      [undefined, /missing admin token/],
      [`Bearer ${await admin.mint(Math.floor(Date.now() / 1000) - 10)}`, /expired/],
      [await other.authorization(), /signature/],
      ["Bearer not-a-jwt", /malformed/],
    ];
    const victim = l.members.find((m) => m.id !== l.id && m.id !== follower)!.id;
    for (const at of [l.id, follower]) {
      for (const [auth, why] of tokens) {
        for (const path of ["/vol/grow?count=1", `/cluster/raft/remove?id=${victim}`, "/cluster/raft/transfer"]) {
          const r = await post(`http://${at}${path}`, auth);
          expect(r.status, `${at}${path} ${JSON.stringify(r.json)}`).toBe(401);
          expect(r.json.error).toMatch(why);
        }
      }
      const add = await post(`http://${at}/cluster/raft/add?id=127.0.0.1:1`);
      expect(add.status).toBe(401);
    }
    const after = await leader();
    expect(after.id).toBe(l.id);
    expect(voters(after)).toEqual(voters(l));
    expect(after.members.some((m) => m.id === "127.0.0.1:1")).toBe(false);
    expect(await maxVolumeId()).toBe(maxBefore);
    expect(datFiles()).toEqual(datBefore);
  });

  it("with an admin token, /vol/grow at a follower works: the leader's AllocateVolume carries one", async () => {
    const l = await leader();
    const follower = masters.find((m) => m.id !== l.id)!.id;
    const before = datFiles().length;
    const r = await post(`http://${follower}/vol/grow?count=2`, await admin.authorization());
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(datFiles().length).toBe(before + 2);
  });

  it("gRPC VolumeDelete and AllocateVolume without a token: UNAUTHENTICATED, the volume stays", async () => {
    const dat = datFiles()[0]!;
    const vid = Number(/(\d+)\.dat$/.exec(dat)![1]);
    const client = createClient(VolumeServer, volume!.grpc);
    try {
      const refused = async (call: Promise<unknown>): Promise<void> => {
        const err = await call.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(GrpcCallError);
        expect((err as GrpcCallError).code).toBe(grpc.status.UNAUTHENTICATED);
      };
      await refused(client.volumeDelete({ volumeId: vid, onlyEmpty: false }, { timeoutMs: 5000 }));
      const expired = `Bearer ${await admin.mint(Math.floor(Date.now() / 1000) - 10)}`;
      await refused(client.volumeDelete({ volumeId: vid }, { timeoutMs: 5000, metadata: { authorization: expired } }));
      await refused(client.allocateVolume({ volumeId: 900, replication: "000" }, { timeoutMs: 5000 }));
      expect(existsSync(`${volume!.dir}/${dat}`)).toBe(true);
      expect(existsSync(`${volume!.dir}/900.dat`)).toBe(false);
      // Reads stay open.
      expect((await client.volumeStatus({ volumeId: vid }, { timeoutMs: 5000 })).isReadOnly).toBe(false);
      // With a token, the delete goes through.
      const authorization = await admin.authorization();
      await client.volumeDelete({ volumeId: vid, onlyEmpty: false }, { timeoutMs: 5000, metadata: { authorization } });
      expect(existsSync(`${volume!.dir}/${dat}`)).toBe(false);
    } finally {
      client.close();
    }
  });

  it("gRPC membership changes need the token too; a follower passes a signed one on", async () => {
    const l = await leader();
    const [follower, other] = masters.filter((m) => m.id !== l.id).map((m) => m.id) as [string, string];
    const grpcOf = (id: string): string => `127.0.0.1:${Number(id.split(":")[1]) + 10000}`;
    const client = createClient(Seaweed, grpcOf(follower));
    try {
      const codeOf = (call: Promise<unknown>): Promise<unknown> =>
        call.then(
          () => "ok",
          (e: unknown) => (e instanceof GrpcCallError ? e.code : e),
        );
      const o = { timeoutMs: 10_000 };
      expect(await codeOf(client.raftRemoveServer({ id: other }, o))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf(client.raftLeadershipTransfer({ targetId: other }, o))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf(client.raftAddServer({ id: "127.0.0.1:1", voter: true }, o))).toBe(
        grpc.status.UNAUTHENTICATED,
      );
      const after = await leader();
      expect([after.id, voters(after)]).toEqual([l.id, voters(l)]);
      const metadata = { authorization: await admin.authorization() };
      const r = await client.raftLeadershipTransfer({ targetId: other }, { ...o, metadata });
      expect(r.newLeader).toBe(other);
      expect((await leader()).id).toBe(other);
    } finally {
      client.close();
    }
  });

  it("the shell with -security restores a lost replica (volume.fix.replication -apply); without, nothing", async () => {
    const port = (await freePortPairs(1))[0]!;
    const dir = `${tmp.dir}/v2`;
    const mserver = masters.map((m) => m.id).join(",");
    const args = ["volume", `-dir=${dir}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=${mserver}`, "-max=20"];
    second = new WeedProcess([...args, `-security=${securityFile}`, "-logLevel=warn"]);
    await waitHttpOk(`http://127.0.0.1:${port}/healthz`, second);
    const l = (await leader()).id;
    const locations = async (vid: number): Promise<number> =>
      ((await getJson(`http://${l}/dir/lookup?volumeId=${vid}`)).json?.locations ?? []).length;
    const grown = await eventually(
      async () => {
        const g = await post(`http://${l}/vol/grow?count=1&replication=001`, await admin.authorization());
        if (g.status !== 200) throw new Error(`grow: ${g.status} ${JSON.stringify(g.json)}`);
        return datFiles(dir);
      },
      { ...PROCESS_WAIT, what: "a 001 volume on both servers" },
    );
    const dat = grown.find((f) => datFiles().includes(f))!;
    const vid = Number(/(\d+)\.dat$/.exec(dat)![1]);
    const client = createClient(VolumeServer, `127.0.0.1:${port + 10000}`);
    try {
      const authorization = await admin.authorization();
      await client.volumeDelete({ volumeId: vid, onlyEmpty: false }, { timeoutMs: 5000, metadata: { authorization } });
    } finally {
      client.close();
    }
    await waitFor(async () => (await locations(vid)) === 1, { ...PROCESS_WAIT, what: `volume ${vid} down to 1 copy` });
    const without = shell(l, "volume.fix.replication", "-apply");
    expect(without.code).not.toBe(0);
    expect(without.err).toMatch(/missing admin token/);
    expect(existsSync(`${dir}/${dat}`)).toBe(false);
    const r = shell(l, `-security=${securityFile}`, "volume.fix.replication", "-apply");
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(`volume ${vid} replication 001, but under replicated 1/2`);
    expect(existsSync(`${dir}/${dat}`)).toBe(true);
    await waitFor(async () => (await locations(vid)) === 2, { ...PROCESS_WAIT, what: `volume ${vid} on 2 servers` });
  });

  it("the shell with -security transfers the leadership; without it, it is refused", async () => {
    const l = await leader();
    const target = masters.find((m) => m.id !== l.id)!.id;
    const without = shell(l.id, "cluster.raft.transferLeader", `-id=${target}`);
    expect(without.code).not.toBe(0);
    expect(without.err).toMatch(/missing admin token/);
    expect((await leader()).id).toBe(l.id);
    const r = shell(target, `-security=${securityFile}`, "cluster.raft.transferLeader", `-id=${target}`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`leader ${target}`);
    expect((await leader()).id).toBe(target);
  });
});
