// A leader that was slow to answer the keepalive, not gone (issue 15): the volume server leaves it,
// asks the others, and when they keep naming it past an election it goes back to it, instead of
// polling them for seconds (a thousand servers doing so swamped the masters).
import { afterEach, describe, expect, it } from "vitest";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { silentLogger } from "../../../src/common/logger.js";
import { HeartbeatClient, heartbeatLeaderConfirmMs } from "../../../src/volume/heartbeat-client.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, waitFor } from "../../helpers.js";
import { FakeMaster } from "./helpers.js";

/** Past the confirmation, the poll that notices it, and a reconnect on a loaded machine. */
const BACK_WITHIN_MS = heartbeatLeaderConfirmMs + 5_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP relay whose open connections can be stalled (bytes stop, sockets stay); new ones still pass. */
class StallingRelay {
  readonly #pairs: [Socket, Socket][] = [];
  readonly #server = createServer((client) => {
    const up = connect(this.target, "127.0.0.1");
    this.#pairs.push([client, up]);
    client.pipe(up);
    up.pipe(client);
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
  });
  port = 0;
  constructor(readonly target: number) {}
  get connections(): number {
    return this.#pairs.length;
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.port = (this.#server.address() as AddressInfo).port;
  }
  stallOpen(): void {
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

async function fakeMaster(): Promise<FakeMaster> {
  const m = new FakeMaster();
  await m.start();
  cleanups.push(() => m.stop());
  return m;
}

describe("heartbeat client and a slow leader", () => {
  it("goes back to the leader it left when the others keep naming it past an election", async () => {
    const leader = await fakeMaster();
    const relay = new StallingRelay(leader.port);
    await relay.start();
    cleanups.push(() => relay.close());
    const viaRelay = `127.0.0.1:${relay.port}.${relay.port}`;
    const follower = await fakeMaster();
    follower.leader = viaRelay;

    const { dir, remove } = await tempDir("weed-ts-hb-slow-");
    const store = new Store({ dir, maxVolumeCount: 4 });
    await store.open();
    cleanups.push(async () => {
      await store.close();
      await remove();
    });
    const hb = new HeartbeatClient({
      store,
      identity: { ip: "127.0.0.1", port: 1, grpcPort: 2, publicUrl: "127.0.0.1:1", dataCenter: "", rack: "", id: "x" },
      masters: [viaRelay, follower.address],
      intervalMs: 60_000,
      logger: silentLogger(),
      keepaliveMs: 200,
      keepaliveTimeoutMs: 200,
    });
    hb.start();
    cleanups.push(() => hb.close());
    await waitFor(() => hb.connected && leader.beats.length === 1, { what: "a beat through the relay" });

    relay.stallOpen(); // the keepalive goes unanswered: the client leaves, as from a stalled leader
    await waitFor(() => follower.streams >= 1, { timeoutMs: 5_000, what: "the follower asked" });
    const since = performance.now();
    await waitFor(() => leader.beats.length >= 2 && hb.connected && hb.currentMaster === viaRelay, {
      timeoutMs: BACK_WITHIN_MS,
      what: "back at the leader the follower names",
    });
    // Not before an election could have named another leader.
    expect(performance.now() - since).toBeGreaterThan(heartbeatLeaderConfirmMs / 2);
    expect(relay.connections).toBe(2);
    expect(follower.beats.length).toBeGreaterThanOrEqual(2);
  });
});
