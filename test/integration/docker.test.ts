// deploy/docker (issue 14): the image cannot be built here, so the Dockerfile is read and its
// ENTRYPOINT + CMD run as the container would run them: in a network namespace of its own (unshare,
// as root), where -ip.bind=0.0.0.0 and the default -ip 127.0.0.1 are the container's own. The
// compose file's three masters and volume server run as local processes (containers.ts): one
// leader, a file written through a follower and read back.
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import { ContainerProcess, dockerfileExec, placeArgs, readYaml, REPO, weedTsArgs } from "./containers.js";
import { BIN, getJson, PROCESS_WAIT } from "./harness.js";

const DOCKER = join(REPO, "deploy/docker");
/** A master's drain after SIGTERM (10 s at most) and the exit, on a shared machine. */
const STOP_TIMEOUT_MS = 15_000;

const procs: ContainerProcess[] = [];
let tmp: TempDir;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const p of procs)
      console.error(`--- ${p.name} (${p.exited ? "exited" : "running"})\n${p.logs().slice(-3000)}`);
  await Promise.all(procs.splice(0).map((p) => p.kill9()));
});

afterAll(async () => {
  await tmp?.remove();
});

/** Runs `script` (JavaScript, top-level await) with node inside the network namespace of `pid`. */
function runInNetns(pid: number, script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(
      "nsenter",
      [`--net=/proc/${pid}/ns/net`, "--", process.execPath, "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (out += b.toString()));
    c.once("exit", (code) => resolve({ code, out }));
  });
}

describe("deploy/docker", () => {
  it("Dockerfile: two node:20-slim stages, a non-root user, an exec-form ENTRYPOINT running weed-ts", async () => {
    const text = await readFile(join(DOCKER, "Dockerfile"), "utf8");
    expect(text.match(/^FROM node:20-slim\b/gm)).toHaveLength(2);
    const last = text.split(/^FROM /m).pop()!;
    expect(last).toMatch(/^USER node$/m);
    expect(last).toMatch(/^COPY --from=build \/app\/dist dist$/m);
    expect(last).toMatch(/^COPY --from=build \/app\/bin bin$/m);
    const { entrypoint, cmd } = dockerfileExec(text);
    expect(weedTsArgs([...entrypoint, ...cmd])).toEqual(["server", "-dir=/data", "-ip.bind=0.0.0.0"]);
    // The build context keeps what `npm ci` (prepare: tsc) needs.
    const ignore = await readFile(join(DOCKER, "Dockerfile.dockerignore"), "utf8");
    for (const kept of ["package.json", "package-lock.json", "tsconfig.json", "bin/**", "src/**"])
      expect(ignore.split("\n")).toContain(`!${kept}`);
  });

  it("ENTRYPOINT + CMD serve a file in the container's own network and stop on SIGTERM", async () => {
    tmp ??= await tempDir("weed-ts-docker-");
    const { entrypoint, cmd } = dockerfileExec(await readFile(join(DOCKER, "Dockerfile"), "utf8"));
    const args = placeArgs(weedTsArgs([...entrypoint, ...cmd]), {
      ip: "0.0.0.0",
      mounts: { "/data": join(tmp.dir, "data") },
    });
    // unshare execs sh, which execs node: one pid, in a new network namespace with lo up.
    const shell = 'ip link set lo up && exec "$0" "$@"';
    const container = spawn("unshare", ["--net", "--", "sh", "-c", shell, process.execPath, BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let logs = "";
    container.stdout!.on("data", (b: Buffer) => (logs += b.toString()));
    container.stderr!.on("data", (b: Buffer) => (logs += b.toString()));
    const exited = new Promise<number | null>((r) => container.once("exit", (code) => r(code)));
    try {
      const check = [
        "const form = new FormData();",
        "form.append('file', new Blob(['in a container']), 'c.txt');",
        "const s = await fetch('http://127.0.0.1:9333/submit', { method: 'POST', body: form });",
        "const j = await s.json();",
        "const r = await fetch('http://' + j.fileUrl);",
        "console.log(s.status, j.fileUrl.startsWith('127.0.0.1:8080/'), await r.text());",
      ].join("\n");
      const r = await eventually(
        async () => {
          const x = await runInNetns(container.pid!, check);
          expect(x.out.trim()).toBe("201 true in a container");
          return x;
        },
        { what: "an upload and read inside the container's network", ...PROCESS_WAIT },
      );
      expect(r.code).toBe(0);
      container.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS, "timeout"))]);
      expect(code, logs.slice(-2000)).toBe(0);
      expect(logs).toMatch(/"msg":"stopped"/);
    } finally {
      if (container.exitCode === null && container.signalCode === null) container.kill("SIGKILL");
      await exited;
    }
  });

  it("compose.yaml: three masters elect one leader; a file goes in through a follower and comes back", async () => {
    tmp ??= await tempDir("weed-ts-docker-");
    const compose = (await readYaml(join(DOCKER, "compose.yaml")))[0] as { services: Record<string, any> };
    const { entrypoint } = dockerfileExec(await readFile(join(DOCKER, "Dockerfile"), "utf8"));
    const names = Object.keys(compose.services);
    expect(names).toEqual(["master1", "master2", "master3", "volume1"]);
    const hostsFile = join(tmp.dir, "compose-dns.json");
    const ip = (i: number): string => `127.0.14.${70 + i}`;
    await writeFile(hostsFile, JSON.stringify(Object.fromEntries(names.map((n, i) => [n, ip(i)]))));
    names.forEach((name, i) => {
      const s = compose.services[name];
      expect(s.image).toBe("weed-ts:0.1.0");
      expect(s.build.dockerfile).toBe("deploy/docker/Dockerfile");
      const args = weedTsArgs([...entrypoint, ...s.command]);
      expect(args).toContain(`-ip=${name}`);
      const health = name.startsWith("master") ? "9333/cluster/healthz" : "8080/healthz";
      expect(s.healthcheck.test.join(" ")).toContain(`http://127.0.0.1:${health}`);
      if (name.startsWith("master")) expect(args).toContain("-peers=master1:9333,master2:9333,master3:9333");
      const mounts = { "/data": join(tmp.dir, name) };
      procs.push(new ContainerProcess(name, placeArgs(args, { ip: ip(i), mounts }), hostsFile));
    });
    const leader = await eventually(
      async () => {
        const views = await Promise.all([0, 1, 2].map((i) => getJson(`http://${ip(i)}:9333/cluster/status`)));
        const leaders = views.filter((v) => v.json.IsLeader === true);
        expect(leaders).toHaveLength(1);
        for (const v of views) expect(v.json.Leader).toMatch(/^master[123]:9333$/);
        return views.find((v) => v.json.IsLeader)!.json.Leader as string;
      },
      { what: "one leader among the compose masters", ...PROCESS_WAIT },
    );
    const follower = [0, 1, 2].find((i) => `master${i + 1}:9333` !== leader)!;
    const fid = await eventually(
      async () => {
        const form = new FormData();
        form.append("file", new Blob(["composed"]), "c.txt");
        const r = await fetch(`http://${ip(follower)}:9333/submit`, { method: "POST", body: form });
        const j = (await r.json()) as { fid: string; fileUrl: string };
        expect(r.status, JSON.stringify(j)).toBe(201);
        // The masters hand out the volume server's -publicUrl, the host's published port.
        expect(j.fileUrl).toBe(`localhost:8080/${j.fid}`);
        return j.fid;
      },
      { what: "an upload through a follower", ...PROCESS_WAIT },
    );
    expect(await (await fetch(`http://${ip(3)}:8080/${fid}`)).text()).toBe("composed");
  });
});
