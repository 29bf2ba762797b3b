// CORS on real processes (issue 12): a master with the default (no -cors.allowedOrigins) and a
// volume server with -cors.allowedOrigins=https://app.example. Cross-origin reads get `*` without
// credentials everywhere; writes and deletes from a page are allowed only from the listed origin
// (preflight names them, the write goes through); any other origin's preflight names reads only,
// and its write is refused with 403 before it runs.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const APP = "https://app.example";
const EVIL = "https://evil.example";
let tmp: TempDir;
let masterPort: number;
let volumePort: number;
let master: WeedProcess;
let volume: WeedProcess;

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;
const volumeUrl = (): string => `http://127.0.0.1:${volumePort}`;

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 15_000, bodyTimeout: 15_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, text: body.toString("utf8") };
}

function preflight(url: string, origin: string, method: string) {
  const headers = { origin, "access-control-request-method": method, "access-control-request-headers": "content-type" };
  return send(url, { method: "OPTIONS", headers });
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-cors-");
  masterPort = await freePortPair();
  volumePort = await freePortPair();
  master = new WeedProcess(["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  const cors = `-cors.allowedOrigins=${APP}`;
  const args = ["volume", `-dir=${tmp.dir}/v`, "-ip=127.0.0.1", `-port=${volumePort}`, cors, "-logLevel=warn"];
  volume = new WeedProcess([...args, `-mserver=127.0.0.1:${masterPort}`]);
  await waitHttpOk(`${volumeUrl()}/healthz`, volume);
  await waitFor(async () => (await getJson(`${masterUrl()}/dir/assign`)).status === 200, {
    ...PROCESS_WAIT,
    what: "a writable volume",
  });
}, 60_000);

afterAll(async () => {
  await volume?.stop();
  await master?.stop();
  await tmp?.remove();
});

describe("CORS", () => {
  it("the open master says so once at start, and in /cluster/status", async () => {
    const said = master.logs().split("security is off: anyone who can reach these ports").length - 1;
    expect(said).toBe(1);
    expect((await getJson(`${masterUrl()}/cluster/status`)).json.Security).toMatchObject({ Enabled: false });
  });

  it("the master (default): cross-origin reads get *, no credentials; writes from any page refused", async () => {
    const read = await send(`${masterUrl()}/dir/lookup?volumeId=1`, { headers: { origin: EVIL } });
    expect(read.headers["access-control-allow-origin"]).toBe("*");
    expect(read.headers["access-control-allow-credentials"]).toBeUndefined();
    const pre = await preflight(`${masterUrl()}/dir/assign`, APP, "POST");
    expect(pre.status).toBe(200);
    expect(String(pre.headers["access-control-allow-methods"])).not.toMatch(/POST|PUT|DELETE/);
    const before = (await getJson(`${masterUrl()}/cluster/status`)).json.MaxVolumeId;
    const grow = await send(`${masterUrl()}/vol/grow?count=2`, { method: "POST", headers: { origin: APP } });
    expect(grow.status, grow.text).toBe(403);
    expect(JSON.parse(grow.text).error).toContain(APP);
    expect((await getJson(`${masterUrl()}/cluster/status`)).json.MaxVolumeId).toBe(before);
    // A client that is not a browser page (no Origin) is not concerned.
    expect((await send(`${masterUrl()}/dir/assign`, { method: "POST" })).status).toBe(200);
  });

  it("the volume server: the listed origin may write and delete, another may only read", async () => {
    const a = (await getJson(`${masterUrl()}/dir/assign`)).json;
    const url = `${volumeUrl()}/${a.fid}`;
    const body = randomBytes(300);

    const evilPre = await preflight(url, EVIL, "PUT");
    expect(evilPre.headers["access-control-allow-origin"]).toBe("*");
    expect(String(evilPre.headers["access-control-allow-methods"])).toBe("GET, HEAD, OPTIONS");
    const evilPut = await send(url, { method: "PUT", body, headers: { origin: EVIL } });
    expect(evilPut.status, evilPut.text).toBe(403);
    expect((await send(url)).status).toBe(404);

    const appPre = await preflight(url, APP, "DELETE");
    expect(appPre.status).toBe(200);
    expect(appPre.headers["access-control-allow-origin"]).toBe(APP);
    expect(String(appPre.headers["access-control-allow-methods"])).toContain("DELETE");
    expect(appPre.headers["access-control-allow-headers"]).toBe("content-type");
    const put = await send(url, { method: "PUT", body, headers: { origin: APP } });
    expect(put.status, put.text).toBe(201);
    expect(put.headers["access-control-allow-origin"]).toBe(APP);
    expect(put.headers["vary"]).toContain("Origin");

    const read = await send(url, { headers: { origin: EVIL } });
    expect(read.status).toBe(200);
    expect(read.body.equals(body)).toBe(true);
    expect(read.headers["access-control-allow-origin"]).toBe("*");
    expect(read.headers["access-control-allow-credentials"]).toBeUndefined();

    const evilDelete = await send(url, { method: "DELETE", headers: { origin: EVIL } });
    expect(evilDelete.status).toBe(403);
    expect((await send(url)).status).toBe(200);
    expect((await send(url, { method: "DELETE", headers: { origin: APP } })).status).toBe(202);
    expect((await send(url)).status).toBe(404);
  });
});
