// The command-line tools against a real `weed-ts server`: `weed-ts upload` and `weed-ts download`
// (SeaweedFS's `weed upload` / `weed download`): files go up with their names and come back
// byte-identical under them, a missing file or fid is reported per item and the exit status says
// so; the shell's cluster.ps, and its prompt on a terminal (a pseudo-terminal made by script(1)).
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let masterPort: number;
let proc: WeedProcess;
let volumePort: number;

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 }, (err, out, errText) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, out, err: errText }),
    );
  });
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-updown-");
  masterPort = await freePortPair();
  volumePort = await freePortPair();
  proc = new WeedProcess([
    "server",
    `-dir=${tmp.dir}/data`,
    "-ip=127.0.0.1",
    `-master.port=${masterPort}`,
    `-volume.port=${volumePort}`,
    "-logLevel=warn",
  ]);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/cluster/healthz`, proc);
  await waitFor(
    async () =>
      JSON.stringify((await getJson(`http://127.0.0.1:${masterPort}/dir/status`)).json).includes(`:${volumePort}`),
    { ...PROCESS_WAIT, what: "the volume server registered" },
  );
}, 60_000);

afterAll(async () => {
  await proc?.stop();
  await tmp?.remove();
});

describe("upload and download", () => {
  it("round-trips files by name; reports a missing file and a missing fid", async () => {
    const up = join(tmp.dir, "up");
    const down = join(tmp.dir, "down");
    mkdirSync(up);
    mkdirSync(down);
    const files = { "a.txt": Buffer.from("hello upload\n"), "b.bin": randomBytes(300_000) };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(up, name), content);
    const master = `-master=127.0.0.1:${masterPort}`;
    const r = await run("upload", master, "-collection=cli", join(up, "a.txt"), join(up, "b.bin"));
    expect(r.code, r.err).toBe(0);
    const results = JSON.parse(r.out) as { fileName: string; fid: string; fileUrl: string; size: number }[];
    expect(results.map((x) => [x.fileName, x.size])).toEqual([
      ["a.txt", files["a.txt"].length],
      ["b.bin", files["b.bin"].length],
    ]);
    const d = await run("download", `-server=127.0.0.1:${masterPort}`, `-dir=${down}`, ...results.map((x) => x.fid));
    expect(d.code, d.err).toBe(0);
    expect(readdirSync(down).sort()).toEqual(["a.txt", "b.bin"]);
    for (const [name, content] of Object.entries(files))
      expect(readFileSync(join(down, name)).equals(content)).toBe(true);

    const bad = await run("upload", master, join(up, "nope.txt"));
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)[0]).toMatchObject({ fileName: "nope.txt" });
    expect(JSON.parse(bad.out)[0].error).toContain("ENOENT");
    const gone = await run("download", `-server=127.0.0.1:${masterPort}`, `-dir=${down}`, "999,01deadbeef");
    expect(gone.code).toBe(1);
    expect(gone.err).toContain("999,01deadbeef:");
    expect(readdirSync(down).sort()).toEqual(["a.txt", "b.bin"]);
    const none = await run("upload", master);
    expect(none.code).toBe(2);
    expect(none.err).toContain("name at least one file");
  });
});

describe("the shell", () => {
  it("cluster.ps lists the master and the volume server", async () => {
    const r = await run("shell", `-master=127.0.0.1:${masterPort}`, "cluster.ps");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`* masters: 1, leader 127.0.0.1:${masterPort}`);
    expect(r.out).toContain(`  * 127.0.0.1:${masterPort} leader`);
    expect(r.out).toMatch(new RegExp(`\\* 127\\.0\\.0\\.1:${volumePort} dataCenter=\\S+ rack=\\S+ volumes=\\d+/\\d+`));
  });

  it("on a terminal: a prompt, commands, a failed one that does not end the session, exit", async () => {
    const command = `${process.execPath} ${BIN} shell -master=127.0.0.1:${masterPort}`;
    const child = spawn("script", ["-qfec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const waitOut = (text: string) =>
      waitFor(() => out.includes(text), { what: `shell printed ${text}`, timeoutMs: 20_000 });
    try {
      await waitOut("> ");
      child.stdin.write("nope.command\n");
      await waitOut("unknown shell command");
      child.stdin.write("cluster.ps\n");
      await waitOut("* volume servers: 1");
      child.stdin.write("exit\n");
      expect(await exited).toBe(0);
      expect(out).toContain('"help" lists the commands');
      expect(out.split("> ").length).toBeGreaterThanOrEqual(4);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
