// The heartbeat stream against real in-test gRPC masters: the full first beat, deltas on volume
// changes, periodic beats, following a leader hint, reconnecting after a master restart.
import { afterEach, describe, expect, it } from "vitest";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { request } from "undici";
import { silentLogger } from "../../../src/common/logger.js";
import { HeartbeatClient, type HeartbeatClientOptions } from "../../../src/volume/heartbeat-client.js";
import { ReplicaLocations } from "../../../src/volume/replication/replica-locations.js";
import { FakeVolumeServer, startMaster, volumeMessage } from "../master/helpers.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, waitFor } from "../../helpers.js";
import { FakeMaster, startVolumeServer, type Started } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function master(port = 0): Promise<FakeMaster> {
  const m = new FakeMaster();
  await m.start(port);
  cleanups.push(() => m.stop());
  return m;
}

async function volumeServer(masters: string[], heartbeatIntervalMs: number): Promise<Started> {
  const s = await startVolumeServer({ masters, heartbeatIntervalMs });
  cleanups.push(() => s.close());
  return s;
}

async function readyz(s: Started): Promise<number> {
  const r = await request(`${s.base}/readyz`);
  await r.body.dump();
  return r.statusCode;
}

describe("heartbeat client", () => {
  it("sends a full heartbeat first: identity, capacity, no volumes", async () => {
    const m = await master();
    const s = await volumeServer([m.address], 60_000);
    await waitFor(() => m.beats.length >= 1, { what: "first heartbeat" });
    const hb = m.beats[0]!;
    expect(hb.ip).toBe("127.0.0.1");
    expect(hb.port).toBe(s.vs.httpPort);
    expect(hb.grpcPort).toBe(s.vs.grpcPort);
    expect(hb.publicUrl).toBe(`127.0.0.1:${s.vs.httpPort}`);
    expect(hb.id).toBe(`127.0.0.1:${s.vs.httpPort}`);
    expect(hb.dataCenter).toBe("dc1");
    expect(hb.rack).toBe("rack1");
    expect(hb.maxVolumeCounts).toEqual({ "": 8 });
    expect(hb.hasNoVolumes).toBe(true);
    expect(hb.volumes).toEqual([]);
    await waitFor(() => s.vs.heartbeat?.connected === true, { what: "connected" });
    expect(await readyz(s)).toBe(200);
  });

  it("sends new_volumes and deleted_volumes deltas at once, before the next periodic beat", async () => {
    const m = await master();
    const s = await volumeServer([m.address], 60_000);
    await waitFor(() => m.beats.length >= 1, { what: "first heartbeat" });
    await s.admin.allocateVolume({ volumeId: 5, collection: "pics", replication: "001", ttl: "3d" });
    await waitFor(() => m.beats.some((b) => b.newVolumes.length > 0), { timeoutMs: 2_000, what: "new_volumes delta" });
    const added = m.beats.find((b) => b.newVolumes.length > 0)!;
    expect(added.newVolumes[0]).toMatchObject({ id: 5, collection: "pics", replicaPlacement: 1, ttl: (3 << 8) | 3 });
    expect(added.volumes).toEqual([]);

    await s.admin.volumeDelete({ volumeId: 5 });
    await waitFor(() => m.beats.some((b) => b.deletedVolumes.length > 0), {
      timeoutMs: 2_000,
      what: "deleted_volumes delta",
    });
    expect(m.beats.find((b) => b.deletedVolumes.length > 0)!.deletedVolumes[0]!.id).toBe(5);
    expect(m.beats.length).toBe(3); // full, added, deleted: no periodic beat in between
  });

  it("beats every interval with the full volume list and max_file_key", async () => {
    const m = await master();
    const s = await volumeServer([m.address], 100);
    await s.admin.allocateVolume({ volumeId: 7 });
    const put = await request(`${s.base}/7,ff01020304`, { method: "PUT", body: Buffer.from("x") });
    expect(put.statusCode).toBe(201);
    await put.body.dump();
    await waitFor(
      () => m.beats.some((b) => b.volumes.some((v) => v.id === 7 && v.fileCount === 1n) && b.maxFileKey === 0xffn),
      { what: "a periodic beat listing volume 7 with one file" },
    );
    const before = m.beats.length;
    await waitFor(() => m.beats.length >= before + 3, { timeoutMs: 3_000, what: "more periodic beats" });
  });

  it("follows a leader hint to the named master and remembers it", async () => {
    const leader = await master();
    const follower = await master();
    follower.leader = leader.address;
    const s = await volumeServer([follower.address], 60_000);
    await waitFor(() => leader.beats.length >= 1, { timeoutMs: 5_000, what: "a beat at the leader" });
    expect(follower.beats.length).toBeGreaterThanOrEqual(1);
    expect(leader.beats[0]!.volumes).toEqual([]);
    expect(leader.beats[0]!.maxVolumeCounts).toEqual({ "": 8 }); // a full beat on the new stream
    await waitFor(() => s.vs.heartbeat?.connected === true, { what: "connected to the leader" });
    expect(s.vs.heartbeat?.currentMaster).toBe(leader.address);
    expect(s.vs.heartbeat?.masters).toEqual([follower.address, leader.address]);
  });

  it("reconnects within a bounded time after the master restarts, and /readyz follows", async () => {
    const m1 = await master();
    const port = m1.port;
    const s = await volumeServer([m1.address], 100);
    await waitFor(() => s.vs.heartbeat?.connected === true, { what: "connected" });
    expect(await readyz(s)).toBe(200);

    m1.stop();
    await waitFor(() => s.vs.heartbeat?.connected === false, { timeoutMs: 3_000, what: "disconnected" });
    expect(await readyz(s)).toBe(503);

    const started = Date.now();
    const m2 = await master(port);
    // Backoff is capped at 5 s (heartbeatReconnectMsMax), so one full cycle plus slack bounds it.
    await waitFor(() => m2.beats.length >= 1, { timeoutMs: 8_000, what: "a full beat at the restarted master" });
    expect(m2.beats[0]!.maxVolumeCounts).toEqual({ "": 8 });
    await waitFor(() => s.vs.heartbeat?.connected === true, { timeoutMs: 2_000, what: "connected again" });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await readyz(s)).toBe(200);
  });

  it("cycles to the next seed master when the first is down", async () => {
    const dead = await master();
    const deadAddress = dead.address;
    dead.stop();
    const live = await master();
    const s = await volumeServer([deadAddress, live.address], 60_000);
    await waitFor(() => live.beats.length >= 1, { timeoutMs: 5_000, what: "a beat at the live master" });
    await waitFor(() => s.vs.heartbeat?.connected === true, { what: "connected" });
    expect(s.vs.heartbeat?.currentMaster).toBe(live.address);
  });

  it("stops on close(): no stream stays open at the master", async () => {
    const m = await master();
    const s = await volumeServer([m.address], 50);
    await waitFor(() => s.vs.heartbeat?.connected === true, { what: "connected" });
    await s.vs.close();
    const n = m.beats.length;
    // Six heartbeat intervals: a stream left open would have beaten in them.
    await new Promise((r) => setTimeout(r, 300));
    expect(m.beats.length).toBe(n);
    expect(s.vs.heartbeat?.connected).toBe(false);
  });
});

/** A TCP relay to a master that can turn into a black hole: sockets stay open, bytes stop. */
class Relay {
  #server = createServer((client) => {
    const up = connect(this.target, "127.0.0.1");
    this.#pairs.push([client, up]);
    client.pipe(up);
    up.pipe(client);
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
  });
  #pairs: [Socket, Socket][] = [];
  port = 0;
  get connections(): number {
    return this.#pairs.length;
  }
  constructor(readonly target: number) {}
  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.port = (this.#server.address() as AddressInfo).port;
  }
  blackhole(): void {
    for (const [a, b] of this.#pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }
  async close(): Promise<void> {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

async function clientOf(masters: string[], extra: Partial<HeartbeatClientOptions> = {}): Promise<HeartbeatClient> {
  const { dir, remove } = await tempDir("weed-ts-hb-");
  const store = new Store({ dir, maxVolumeCount: 4 });
  await store.open();
  cleanups.push(async () => {
    await store.close();
    await remove();
  });
  const hb = new HeartbeatClient({
    store,
    identity: {
      ip: "127.0.0.1",
      port: 1,
      grpcPort: 2,
      publicUrl: "127.0.0.1:1",
      dataCenter: "",
      rack: "",
      id: "127.0.0.1:1",
    },
    masters,
    intervalMs: 60_000,
    logger: silentLogger(),
    keepaliveMs: 200,
    keepaliveTimeoutMs: 200,
    ...extra,
  });
  hb.start();
  cleanups.push(() => hb.close());
  return hb;
}

describe("heartbeat client across a partition", () => {
  it("while the others elect, asks them again and not the leader it lost", async () => {
    const behind = await master();
    const relay = new Relay(behind.port);
    await relay.start();
    cleanups.push(() => relay.close());
    const [b, c] = [await master(), await master()];
    const hb = await clientOf([`127.0.0.1:${relay.port}.${relay.port}`, b.address, c.address]);
    await waitFor(() => behind.beats.length >= 1 && hb.connected, { what: "a beat through the relay" });
    b.electing = true;
    c.electing = true;
    relay.blackhole();
    await waitFor(() => b.streams + c.streams >= 4, { timeoutMs: 5_000, what: "the others asked twice each" });
    // The lost leader may be cut off or hung: going back to it would cost a whole answer timeout.
    expect(relay.connections).toBe(1);
    b.electing = false;
    await waitFor(() => hb.connected && hb.currentMaster === b.address, {
      timeoutMs: 2_000,
      what: "connected to the new leader",
    });
  });

  it("declares a silent master dead by keepalive and moves to the next one", async () => {
    const behind = await master();
    const other = await master();
    const relay = new Relay(behind.port);
    await relay.start();
    cleanups.push(() => relay.close());
    const hb = await clientOf([`127.0.0.1:${relay.port}.${relay.port}`, other.address]);
    await waitFor(() => behind.beats.length >= 1 && hb.connected, { what: "a beat through the relay" });
    relay.blackhole();
    await waitFor(() => other.beats.length >= 1, { timeoutMs: 5_000, what: "a beat at the other master" });
    await waitFor(() => hb.connected && hb.currentMaster === other.address, {
      timeoutMs: 2_000,
      what: "connected to the other master",
    });
  });
});

describe("volume_locations_changed", () => {
  it("the leader's pushes reach onLocationsChanged and drop those cached lookups; a new stream drops all", async () => {
    const t = await tempDir("weed-ts-hb-master-");
    const m = await startMaster(t.dir);
    cleanups.push(async () => {
      await m.close();
      await t.remove();
    });
    let asked = 0;
    // A cache whose lookups are counted: get() asks again only once an entry was dropped.
    const cached = new ReplicaLocations({
      master: () => "127.0.0.1:1",
      lookup: async () => {
        asked++;
        return [];
      },
      ttlMs: 60_000,
      entriesMax: 10,
      nowMs: () => performance.now(),
    });
    const heard: (number[] | "all")[] = [];
    const hb = await clientOf([`127.0.0.1:${m.httpPort}.${m.grpcPort}`], {
      onLocationsChanged: (ids) => {
        heard.push(ids === "all" ? "all" : [...ids]);
        cached.forget(ids);
      },
    });
    await waitFor(() => hb.connected, { what: "connected to the master" });
    expect(heard[0]).toBe("all");
    await cached.get(9);
    await cached.get(4);
    expect(asked).toBe(2);

    const other = new FakeVolumeServer({ rack: "r2" });
    cleanups.push(() => other.close());
    await other.start();
    await other.connect(m.grpcPort, { volumes: [volumeMessage(9)] });
    await waitFor(() => heard.some((h) => h !== "all" && h.includes(9)), { what: "told of volume 9" });
    await cached.get(9); // dropped: asks the master again
    await cached.get(4); // still cached
    expect(asked).toBe(3);
  });
});
