// A request whose client goes away stops the work done for it: an assign waiting for a slow
// growth answers (and counts as failed) when the client disconnects, not when its wait runs out.
import { request as httpRequest } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../helpers.js";
import { masterPerTest, type FakeVolumeServer } from "./helpers.js";

const fx = masterPerTest("weed-ts-client-gone-");
let volume: FakeVolumeServer;
const growthMs = 1_500;

beforeEach(async () => {
  // Growth finishes well within an assign's growth wait (5 s): an assign that does not notice its
  // client leaving would succeed once it does, and a /submit would upload.
  volume = await fx.volumeServer({ allocateDelayMs: growthMs });
});

async function failedAssigns(): Promise<number> {
  const text = await (await fetch(fx.url("/metrics"))).text();
  const m = /^SeaweedFS_master_assign_total\{result="error"\} (\d+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** Sends a request and drops the connection after `ms`, without reading an answer. */
function requestThenHangUp(path: string, ms: number, method = "GET", body?: Buffer): void {
  const req = httpRequest({ host: "127.0.0.1", port: fx.master.httpPort, path, method });
  req.on("error", () => undefined); // The hang-up is the point.
  if (body !== undefined) req.setHeader("Content-Type", "multipart/form-data; boundary=X");
  req.end(body);
  setTimeout(() => req.destroy(), ms);
}

describe("a client that goes away", () => {
  it("ends an /dir/assign waiting for growth at once", async () => {
    const started = performance.now();
    requestThenHangUp("/dir/assign", 200);
    await eventually(async () => expect(await failedAssigns()).toBe(1), { what: "the assign to end" });
    const endedAfterMs = performance.now() - started;
    expect(endedAfterMs).toBeGreaterThanOrEqual(150);
    expect(endedAfterMs).toBeLessThan(growthMs);
  });

  it("ends a /submit waiting for growth at once: nothing is uploaded when the growth completes", async () => {
    const body = Buffer.from(
      '--X\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--X--\r\n',
    );
    requestThenHangUp("/submit", 200, "POST", body);
    await eventually(() => expect(volume.allocations.length).toBeGreaterThan(0), { what: "the growth to complete" });
    // Time for an upload that was still going to happen to arrive.
    await sleep(500);
    expect(volume.uploads).toEqual([]);
  });
});
