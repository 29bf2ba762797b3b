// deploy/systemd (issue 14): the units' ExecStart lines, with their environment files' variables
// put in as systemd does, start a master and a volume server that take a file, and stop on the
// units' KillSignal within TimeoutStopSec.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import { REPO } from "./containers.js";
import { getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const SYSTEMD = join(REPO, "deploy/systemd");
const INSTALLED_BIN = "/usr/local/bin/weed-ts";
const STATE_DIR = "/var/lib/weed-ts";

const procs: WeedProcess[] = [];
let tmp: TempDir | undefined;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const p of procs) console.error(`--- ${p.args[0]}\n${p.logs().slice(-3000)}`);
  await Promise.all(procs.splice(0).map((p) => p.kill9()));
});

afterAll(async () => {
  await tmp?.remove();
});

/** A unit file's [Service] settings (the last value of each key). */
async function service(unit: string): Promise<Record<string, string>> {
  const text = await readFile(join(SYSTEMD, unit), "utf8");
  const section = text.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  const out: Record<string, string> = {};
  for (const line of section.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m !== null) out[m[1]!] = m[2]!;
  }
  return out;
}

async function envFile(name: string): Promise<Record<string, string>> {
  const text = await readFile(join(SYSTEMD, name), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** systemd's ExecStart: ${VAR} is one word, words split at spaces; the installed binary is ours. */
function execStart(line: string, env: Readonly<Record<string, string>>, stateDir: string): string[] {
  const words = line.split(/ +/).map((w) =>
    w.replace(/\$\{(\w+)\}/g, (_, name: string) => {
      if (env[name] === undefined) throw new Error(`ExecStart uses \${${name}}, which the environment file lacks`);
      return env[name];
    }),
  );
  expect(words[0]).toBe(INSTALLED_BIN);
  return words.slice(1).map((w) => w.replace(`=${STATE_DIR}/`, `=${stateDir}/`));
}

describe("deploy/systemd units", () => {
  it("run the installed binary as an unprivileged user, stop by SIGTERM with time to drain", async () => {
    for (const unit of ["weed-ts-master.service", "weed-ts-volume.service"]) {
      const s = await service(unit);
      expect(s.User).toBe("weed-ts");
      expect(s.StateDirectory).toBe("weed-ts");
      expect(s.KillSignal).toBe("SIGTERM");
      // weed-ts drains for at most 10 s before it exits on its own.
      expect(Number(s.TimeoutStopSec)).toBeGreaterThan(10);
      expect(s.Restart).toBe("on-failure");
      expect(s.ExecStart!.startsWith(`${INSTALLED_BIN} `)).toBe(true);
      expect(s.ExecStart).not.toMatch(/npx|npm /);
      const file = s.EnvironmentFile!.replace("/etc/weed-ts/", "");
      // Every variable ExecStart uses is set (and explained) in the example environment file.
      execStart(s.ExecStart!, await envFile(file), "/tmp/x");
    }
  });

  it("their ExecStart lines start a master and a volume server that take a file and stop on SIGTERM", async () => {
    tmp = await tempDir("weed-ts-systemd-");
    const master = await service("weed-ts-master.service");
    const volume = await service("weed-ts-volume.service");
    // This host's environment files: the examples, with this machine's loopback addresses.
    const masterEnv = { ...(await envFile("master.env")), WEED_IP: "127.0.14.90", WEED_IP_BIND: "127.0.14.90" };
    const m = new WeedProcess(execStart(master.ExecStart!, { ...masterEnv, WEED_MASTERS: "" }, tmp.dir));
    procs.push(m);
    await waitHttpOk("http://127.0.14.90:9333/cluster/healthz", m);
    const volumeEnv = { ...(await envFile("volume.env")), WEED_IP: "127.0.14.91", WEED_IP_BIND: "127.0.14.91" };
    const v = new WeedProcess(
      execStart(volume.ExecStart!, { ...volumeEnv, WEED_MASTERS: "127.0.14.90:9333" }, tmp.dir),
    );
    procs.push(v);
    const fid = await eventually(
      async () => {
        const form = new FormData();
        form.append("file", new Blob(["unit"]), "u.txt");
        const r = await getJson("http://127.0.14.90:9333/submit", { method: "POST", body: form });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
        return (r.json as { fid: string }).fid;
      },
      { what: "an upload once the volume server has registered", ...PROCESS_WAIT },
    );
    expect(await (await request(`http://127.0.14.91:8080/${fid}`)).body.text()).toBe("unit");
    // systemctl stop: KillSignal, then SIGKILL after TimeoutStopSec.
    for (const p of [v, m]) {
      await p.stop(Number(master.TimeoutStopSec) * 1000);
      expect(await p.exit()).toBe(0);
    }
  });
});
