// `npx weed-ts master ...` under a supervisor (issue 14): npm runs weed-ts through `sh -c` and
// passes SIGTERM to that shell only, which died and left the server running as an orphan. The
// server now drains and stops when its npm parent goes away, as on a direct SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import { freePortPair, PROCESS_WAIT, waitHttpOk } from "./harness.js";

const REPO = resolve(import.meta.dirname, "../..");
/** The parent watch (250 ms) plus a master's drain on a shared machine. */
const STOP_TIMEOUT_MS = 10_000;

let tmp: TempDir;
let npm: ChildProcess | undefined;
const serverPids: number[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-ts-npm-exec-");
});

afterEach(async () => {
  if (npm !== undefined && npm.exitCode === null && npm.signalCode === null) npm.kill("SIGKILL");
  npm = undefined;
  for (const pid of serverPids.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
  await tmp.remove();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A project that has weed-ts installed (a link to this checkout, so nothing is fetched or built):
 * `npm exec -- weed-ts` there runs the local bin as `npx weed-ts` does in an operator's project.
 */
async function projectWithWeedTs(): Promise<string> {
  const dir = join(tmp.dir, "project");
  await mkdir(join(dir, "node_modules", ".bin"), { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "ops", private: true }));
  await symlink(REPO, join(dir, "node_modules", "weed-ts"));
  await symlink("../weed-ts/bin/weed-ts.js", join(dir, "node_modules", ".bin", "weed-ts"));
  return dir;
}

/** The pid weed-ts writes in its JSON log lines (npm's own pid is not the server's). */
function serverPid(output: string): number {
  const m = /"pid":(\d+)/.exec(output);
  if (m === null) throw new Error(`no log line with a pid yet:\n${output}`);
  return Number(m[1]);
}

describe("weed-ts started through npm exec", () => {
  it("stops (draining, as on SIGTERM) when npm is sent SIGTERM, instead of running on as an orphan", async () => {
    const cwd = await projectWithWeedTs();
    const port = await freePortPair();
    const args = ["exec", "--offline", "--", "weed-ts", "master", "-ip=127.0.0.1", `-port=${port}`];
    npm = spawn("npm", [...args, `-mdir=${join(tmp.dir, "m")}`, "-logFormat=json"], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    npm.stdout!.on("data", (b: Buffer) => (output += b.toString()));
    npm.stderr!.on("data", (b: Buffer) => (output += b.toString()));
    await waitHttpOk(`http://127.0.0.1:${port}/cluster/healthz`);
    const pid = serverPid(output);
    serverPids.push(pid);
    expect(pid).not.toBe(npm.pid);

    npm.kill("SIGTERM");
    await eventually(() => expect(alive(pid), `weed-ts (pid ${pid}) still running`).toBe(false), {
      what: "the server started by npm exec to exit",
      timeoutMs: STOP_TIMEOUT_MS,
      intervalMs: PROCESS_WAIT.intervalMs,
    });
    // It went the SIGTERM way: drained and logged its stop, not killed.
    expect(output).toMatch(/"msg":"shutting down"/);
    expect(output).toMatch(/"msg":"stopped"/);
  });
});
