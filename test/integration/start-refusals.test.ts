// What an operator sees when a start cannot go on (issue 9): a port in use, a directory that is
// not one, a master directory of another master or with its Raft log gone. Each is one line on
// stderr naming what is wrong, exit status 1, and no stack trace.
import { createServer, type Server } from "node:net";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir, type TempDir } from "../helpers.js";
import { freePort, freePortPair, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
const started: WeedProcess[] = [];
const squatters: Server[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-ts-refusals-");
});

afterEach(async () => {
  for (const p of started.splice(0)) await p.kill9();
  for (const s of squatters.splice(0)) await new Promise((r) => s.close(r));
  await tmp.remove();
});

/** Holds `port` on loopback so that a weed-ts process cannot. */
async function occupy(port: number): Promise<void> {
  const s = createServer();
  squatters.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve());
  });
}

/** Runs weed-ts to its exit; its stderr lines that are not JSON log lines. */
async function refused(args: string[]): Promise<{ status: number | null; lines: string[] }> {
  const p = new WeedProcess(args);
  started.push(p);
  const status = await p.exit();
  const lines = p
    .logs()
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("{"));
  return { status, lines };
}

function expectOneLine(r: { status: number | null; lines: string[] }, says: RegExp): void {
  expect(r.status).toBe(1);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(says);
  expect(r.lines.join("\n")).not.toMatch(/^\s+at /m);
}

describe("a start that cannot go on", () => {
  it("names a taken HTTP port", async () => {
    const port = await freePortPair();
    await occupy(port);
    const r = await refused(["master", `-port=${port}`, `-mdir=${join(tmp.dir, "m")}`]);
    expectOneLine(r, new RegExp(`^weed-ts master: .*EADDRINUSE.*${port}`));
  });

  it("names a taken gRPC port", async () => {
    const port = await freePortPair();
    await occupy(port + 10_000);
    const r = await refused(["master", `-port=${port}`, `-mdir=${join(tmp.dir, "m")}`]);
    expectOneLine(r, new RegExp(`^weed-ts master: cannot listen on gRPC 127\\.0\\.0\\.1:${port + 10_000}`));
  });

  it("names a volume server's taken port", async () => {
    const port = await freePortPair();
    await occupy(port);
    const r = await refused(["volume", `-port=${port}`, `-dir=${tmp.dir}`, `-mserver=127.0.0.1:${await freePort()}`]);
    expectOneLine(r, new RegExp(`^weed-ts volume: .*EADDRINUSE.*${port}`));
  });

  it("names a master directory that is a file", async () => {
    const file = join(tmp.dir, "not-a-dir");
    await writeFile(file, "x");
    const r = await refused(["master", `-port=${await freePortPair()}`, `-mdir=${file}`]);
    expectOneLine(r, /^weed-ts master: .*not-a-dir/);
  });

  it("refuses another master's directory, and one whose Raft log is gone, naming what to do", async () => {
    const mdir = join(tmp.dir, "m1");
    const port = await freePortPair();
    const first = new WeedProcess(["master", `-port=${port}`, `-mdir=${mdir}`]);
    started.push(first);
    await waitHttpOk(`http://127.0.0.1:${port}/cluster/healthz`, first);
    await first.stop();
    const other = await freePortPair();
    expectOneLine(
      await refused(["master", `-port=${other}`, `-mdir=${mdir}`]),
      new RegExp(`belongs to master 127\\.0\\.0\\.1:${port} .*not to 127\\.0\\.0\\.1:${other}`),
    );
    await rm(join(mdir, "raft"), { recursive: true });
    expectOneLine(
      await refused(["master", `-port=${port}`, `-mdir=${mdir}`]),
      /has no Raft state .* refusing to start a new cluster over a lost log/,
    );
  });
});
