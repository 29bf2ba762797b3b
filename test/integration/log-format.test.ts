// Logs an operator reads: -logFormat=text prints "[time] LEVEL: [component] message" lines,
// -logFormat=json one object per line with the level's name; a bad value is refused naming the flag.
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, WeedProcess } from "./harness.js";

let tmp: TempDir | undefined;
let proc: WeedProcess | undefined;

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
  await tmp?.remove();
  tmp = undefined;
});

let port = 0;

async function startMaster(format: string, ...extra: string[]): Promise<WeedProcess> {
  tmp = await tempDir("weed-ts-logformat-");
  port = await freePortPair();
  const args = ["master", `-mdir=${tmp.dir}`, "-ip=127.0.0.1", `-port=${port}`, `-logFormat=${format}`, ...extra];
  proc = new WeedProcess(args);
  await waitFor(() => proc!.logs().includes("master listening"), { what: "master listening", timeoutMs: 20_000 });
  return proc;
}

describe("-logFormat", () => {
  it("text: one line per event with time, level name, component and message", async () => {
    const p = await startMaster("text");
    const line = p
      .logs()
      .split("\n")
      .find((l) => l.includes("master listening"))!;
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: master listening \{.*"self":/);
    expect(p.logs()).toMatch(/WARN: \[master\] security is off/);
    expect(p.logs()).not.toContain('"level":');
  });

  it("json: one object per line, the level by name", async () => {
    const p = await startMaster("json");
    const lines = p
      .logs()
      .split("\n")
      .filter((l) => l.startsWith("{"));
    const entries = lines.map((l) => JSON.parse(l) as { level: unknown; msg: string; component?: string });
    expect(entries.find((e) => e.msg === "master listening")?.level).toBe("info");
    expect(entries.find((e) => e.msg.startsWith("security is off"))).toMatchObject({
      level: "warn",
      component: "master",
    });
  });

  it("-logLevel=debug adds an access log line per request", async () => {
    const p = await startMaster("json", "-logLevel=debug");
    await request(`http://127.0.0.1:${port}/dir/status?pretty=y`).then((r) => r.body.text());
    await waitFor(() => p.logs().includes('"msg":"http request"'), { what: "the access log line", timeoutMs: 10_000 });
    const line = p
      .logs()
      .split("\n")
      .find((l) => l.includes('"msg":"http request"'))!;
    expect(JSON.parse(line)).toMatchObject({ level: "debug", method: "GET", url: "/dir/status?pretty=y", status: 200 });
  });

  it("a bad value stops the start naming the flag", () => {
    const r = spawnSync(process.execPath, [BIN, "master", "-logFormat=xml"], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("-logFormat");
    expect(r.stderr).toContain("expected one of text, json");
  });
});
