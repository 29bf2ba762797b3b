// After its leader's stream breaks, a volume server first asks a master drawn at random among the
// others (issue 15): a thousand servers that lost the leader together spread over the survivors,
// and those that reach the one being elected stay on the stream they opened (the master holds it
// through the election) instead of all asking the same master and being redirected.
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/common/logger.js";
import { HeartbeatClient } from "../../../src/volume/heartbeat-client.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, waitFor } from "../../helpers.js";
import { FakeMaster } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function master(): Promise<FakeMaster> {
  const m = new FakeMaster();
  await m.start();
  cleanups.push(() => m.stop());
  return m;
}

async function clientOf(masters: string[], random: () => number): Promise<HeartbeatClient> {
  const { dir, remove } = await tempDir("weed-ts-hb-first-ask-");
  const store = new Store({ dir, maxVolumeCount: 4 });
  await store.open();
  cleanups.push(async () => {
    await store.close();
    await remove();
  });
  const ip = "127.0.0.1";
  const hb = new HeartbeatClient({
    store,
    identity: { ip, port: 1, grpcPort: 2, publicUrl: `${ip}:1`, dataCenter: "", rack: "", id: `${ip}:1` },
    masters,
    intervalMs: 60_000,
    logger: silentLogger(),
    random,
  });
  hb.start();
  cleanups.push(() => hb.close());
  return hb;
}

/** Which of `others` the server reports to after `leader`'s stream breaks, with this draw. */
async function firstAskAfterLoss(draw: number): Promise<number> {
  const leader = await master();
  const others = [await master(), await master(), await master()];
  const hb = await clientOf([leader.address, ...others.map((m) => m.address)], () => draw);
  await waitFor(() => hb.connected && hb.currentMaster === leader.address, { what: "connected to the leader" });
  leader.stop();
  await waitFor(() => others.some((m) => m.streams > 0), { timeoutMs: 5_000, what: "another master asked" });
  const asked = others.findIndex((m) => m.streams > 0);
  await waitFor(() => hb.connected && hb.currentMaster === others[asked]!.address, { what: "connected there" });
  expect(others.filter((m) => m.streams > 0)).toHaveLength(1);
  return asked;
}

describe("heartbeat client's first ask after losing its leader", () => {
  it("goes to a master drawn at random among the others, never the lost one", async () => {
    expect(await firstAskAfterLoss(0)).toBe(0);
    expect(await firstAskAfterLoss(0.5)).toBe(1);
    expect(await firstAskAfterLoss(0.99)).toBe(2);
  });
});
