// The memory and disk flags of a real `weed-ts volume` / `weed-ts server` process: bad values
// exit 2 naming the flag, -h lists them, and -volume.concurrentUploadLimitMB with
// -volume.inflightUploadDataTimeout reach the server's volume server: an upload that waits past
// the timeout behind one holding the bound is answered 503 naming the flag.
import { spawnSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("volume memory and disk flags", () => {
  it.each([
    [["volume", "-concurrentUploadLimitMB=-5"], /flag -concurrentUploadLimitMB: must not be negative/],
    [["volume", "-minFreeSpace=lots"], /flag -minFreeSpace: /],
    [["volume", "-inflightDownloadDataTimeout=soon"], /flag -inflightDownloadDataTimeout: expected a duration/],
    [["server", "-volume.minFreeSpace=101"], /flag -volume.minFreeSpace: .*0\.\.100/],
    [["server", "-volume.concurrentDownloadLimitMB=x"], /flag -volume.concurrentDownloadLimitMB/],
  ])("%j exits 2 naming the bad flag", (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("volume -h lists them with SeaweedFS's names", () => {
    const r = run("volume", "-h");
    for (const flag of [
      "-concurrentUploadLimitMB",
      "-concurrentDownloadLimitMB",
      "-inflightUploadDataTimeout",
      "-inflightDownloadDataTimeout",
      "-minFreeSpacePercent",
      "-minFreeSpace",
    ])
      expect(r.stdout).toContain(`  ${flag} `);
  });
});

describe("weed-ts server -volume.concurrentUploadLimitMB", () => {
  let tmp: TempDir;
  let proc: WeedProcess;
  let masterPort = 0;
  let volumePort = 0;

  beforeAll(async () => {
    tmp = await tempDir("weed-ts-limit-flags-");
    [masterPort, volumePort] = [await freePortPair(), await freePortPair()];
    proc = new WeedProcess([
      "server",
      `-dir=${tmp.dir}`,
      "-ip=127.0.0.1",
      `-master.port=${masterPort}`,
      `-volume.port=${volumePort}`,
      "-volume.concurrentUploadLimitMB=1",
      "-volume.inflightUploadDataTimeout=300ms",
      "-logLevel=warn",
    ]);
    await waitHttpOk(`http://127.0.0.1:${volumePort}/healthz`, proc);
  });

  afterAll(async () => {
    await proc?.stop();
    await tmp?.remove();
  });

  async function assign(): Promise<string> {
    let fid = "";
    await waitFor(
      async () => {
        const r = await getJson(`http://127.0.0.1:${masterPort}/dir/assign`);
        fid = r.status === 200 ? String(r.json.fid) : "";
        return fid !== "";
      },
      { ...PROCESS_WAIT, what: "an assign" },
    );
    return fid;
  }

  function putHeaders(fid: string, bytes: number, expectContinue: boolean) {
    const req = httpRequest({ host: "127.0.0.1", port: volumePort, method: "PUT", path: `/${fid}`, agent: false });
    req.setHeader("content-length", bytes);
    if (expectContinue) req.setHeader("expect", "100-continue");
    req.on("error", () => undefined);
    const answer = new Promise<{ status: number; body: string }>((resolve) => {
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    req.flushHeaders();
    return { req, answer };
  }

  it("answers an upload that waited past -volume.inflightUploadDataTimeout 503 naming the flag", async () => {
    const [fa, fb] = [await assign(), await assign()];
    const a = putHeaders(fa, 900 * 1024, true); // holds 900 KiB of the 1 MiB bound, body not sent yet
    await new Promise((resolve) => a.req.once("continue", resolve));
    const b = putHeaders(fb, 900 * 1024, false);
    const refused = await b.answer;
    b.req.destroy();
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).error).toMatch(
      /-concurrentUploadLimitMB=1 .*-inflightUploadDataTimeout=300ms.*retry later/,
    );
    a.req.end(Buffer.alloc(900 * 1024, 1));
    expect((await a.answer).status).toBe(201);
  });
});
