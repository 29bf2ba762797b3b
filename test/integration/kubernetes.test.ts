// deploy/kubernetes (issue 14, GooseFS's "masters declared by count"): the manifests line up
// (names, ports, probes, budgets), and their pods, run here as local processes the way the kubelet
// would start them (containers.ts), form one Raft cluster of 3 with one leader, grow to 5 when the
// count is raised (pods 3 and 4 join while the running 3 keep going), fail over when the leader is
// killed, take back a pod 0 whose volume was lost, and refuse an even count. No Kubernetes runs here.
import { renameSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import {
  containerEnv,
  ContainerProcess,
  dockerfileExec,
  expandVars,
  find,
  placeArgs,
  readKustomization,
  REPO,
  weedTsArgs,
  type K8sObject,
} from "./containers.js";
import { getJson, PROCESS_WAIT } from "./harness.js";

const K8S = join(REPO, "deploy/kubernetes");
/** Each pod's address: its own loopback, away from the 127.0.0.x that other tests use. */
const masterIp = (i: number): string => `127.0.14.${10 + i}`;
const volumeIp = (i: number): string => `127.0.14.${40 + i}`;

const pods: ContainerProcess[] = [];
let tmp: TempDir | undefined;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const p of pods) console.error(`--- ${p.name} (${p.exited ? "exited" : "running"})\n${p.logs().slice(-3000)}`);
});

afterAll(async () => {
  await Promise.all(pods.splice(0).map((p) => p.kill9()));
  await tmp?.remove();
});

function statefulSet(objects: readonly K8sObject[], name: string): { spec: any; container: any } {
  const spec = find(objects, "StatefulSet", name).spec;
  return { spec, container: spec.template.spec.containers[0] };
}

/** The cluster's DNS: each pod's stable name -> its loopback address, published as the pod starts. */
const dns: Record<string, string> = {};

function publish(hostsFile: string, name: string, ip: string): void {
  dns[name] = ip;
  // Replaced whole (write, then rename), so a lookup never reads half a file; synchronously, so
  // pods started together cannot put back an older copy.
  writeFileSync(`${hostsFile}.new`, JSON.stringify(dns));
  renameSync(`${hostsFile}.new`, hostsFile);
}

/** The manifests after the operator's edit for `n` masters: the ConfigMap's count and the replicas. */
function withMasters(objects: readonly K8sObject[], n: number, replicas = n): K8sObject[] {
  const copy = structuredClone(objects) as K8sObject[];
  find(copy, "ConfigMap", "weed-master").data!.count = String(n);
  find(copy, "StatefulSet", "weed-master").spec.replicas = replicas;
  return copy;
}

/** Starts pod `ordinal` of StatefulSet `set` as the kubelet would, on its own address and volume. */
async function startPod(objects: readonly K8sObject[], set: string, ordinal: number): Promise<ContainerProcess> {
  const { container } = statefulSet(objects, set);
  const name = `${set}-${ordinal}`;
  const image = dockerfileExec(await readFile(join(REPO, "deploy/docker/Dockerfile"), "utf8"));
  const env = containerEnv(container, name, objects);
  const argv = [...(container.command ?? image.entrypoint), ...(container.args ?? image.cmd)];
  const args = weedTsArgs(argv.map((a: string) => expandVars(a, env)));
  tmp ??= await tempDir("weed-ts-k8s-");
  const mounts = Object.fromEntries(
    (container.volumeMounts as { mountPath: string }[]).map((m) => [m.mountPath, join(tmp!.dir, name)]),
  );
  const ip = set === "weed-master" ? masterIp(ordinal) : volumeIp(ordinal);
  const hostsFile = join(tmp.dir, "cluster-dns.json");
  publish(hostsFile, `${name}.${statefulSet(objects, set).spec.serviceName}`, ip);
  const pod = new ContainerProcess(name, placeArgs(args, { ip, mounts }), hostsFile);
  pods.push(pod);
  return pod;
}

interface RaftStatus {
  clusterId: string;
  role: string;
  leader: string | null;
  members: { id: string; suffrage: string }[];
}

async function raft(ip: string): Promise<RaftStatus> {
  const r = await getJson(`http://${ip}:9333/cluster/raft`, { headersTimeout: 2000, bodyTimeout: 2000 });
  if (r.status !== 200) throw new Error(`${ip}: ${r.status}`);
  return r.json as RaftStatus;
}

/** Every running master agrees on one leader and on `voters` voters; returns the leader's id. */
async function agreedLeader(ordinals: readonly number[], voters: number): Promise<string> {
  return eventually(
    async () => {
      const views = await Promise.all(ordinals.map((i) => raft(masterIp(i))));
      const leaders = new Set(views.map((v) => v.leader));
      expect(leaders.size, JSON.stringify(views.map((v) => v.leader))).toBe(1);
      expect(views.filter((v) => v.role === "leader")).toHaveLength(1);
      for (const v of views) expect(v.members.filter((m) => m.suffrage === "voter")).toHaveLength(voters);
      return views[0]!.leader!;
    },
    { what: `one leader and ${voters} voters on masters ${ordinals.join(",")}`, ...PROCESS_WAIT, timeoutMs: 30_000 },
  );
}

describe("deploy/kubernetes manifests", () => {
  it("line up: services, ports (gRPC = HTTP + 10000), probes, peers, budgets", async () => {
    const objects = await readKustomization(K8S);
    for (const [set, port, ready, live] of [
      ["weed-master", 9333, "/cluster/healthz", "/healthz"],
      ["weed-volume", 8080, "/healthz", "/healthz"],
    ] as const) {
      const { spec, container } = statefulSet(objects, set);
      const labels = spec.template.metadata.labels;
      expect(spec.selector.matchLabels).toEqual(labels);
      const svc = find(objects, "Service", spec.serviceName).spec;
      expect(svc.clusterIP).toBe("None");
      expect(svc.publishNotReadyAddresses).toBe(true);
      expect(svc.selector).toEqual(labels);
      const ports = Object.fromEntries(container.ports.map((p: any) => [p.name, p.containerPort]));
      expect(ports).toEqual({ http: port, grpc: port + 10000 });
      for (const p of svc.ports) expect(ports[p.targetPort]).toBe(p.port);
      expect(container.args).toContain(`-port=${port}`);
      expect(container.args).toContain(`-ip=$(POD_NAME).${spec.serviceName}`);
      expect(container.readinessProbe.httpGet).toEqual({ path: ready, port: "http" });
      expect(container.livenessProbe.httpGet).toEqual({ path: live, port: "http" });
      const mount = container.volumeMounts[0];
      expect(spec.volumeClaimTemplates.map((c: any) => c.metadata.name)).toContain(mount.name);
      expect(container.args).toContain(`-${set === "weed-master" ? "mdir" : "dir"}=${mount.mountPath}`);
      const pdb = find(objects, "PodDisruptionBudget", set).spec;
      expect(pdb.selector.matchLabels).toEqual(labels);
      expect(pdb.maxUnavailable).toBe(1);
    }
    const masters = statefulSet(objects, "weed-master");
    expect(masters.spec.podManagementPolicy).toBe("Parallel");
    expect(masters.container.args).toContain("-peers.pattern=weed-master-{i}.weed-master:9333");
    expect(masters.container.args).toContain("-peers.count=$(WEED_MASTERS)");
    expect(find(objects, "ConfigMap", "weed-master").data!.count).toBe(String(masters.spec.replicas));
    expect(masters.spec.replicas % 2).toBe(1);
    // The volume servers' masters exist at every odd count of 3 or more.
    const mserver = statefulSet(objects, "weed-volume").container.args.find((a: string) => a.startsWith("-mserver="));
    expect(mserver).toBe(
      "-mserver=weed-master-0.weed-master:9333,weed-master-1.weed-master:9333,weed-master-2.weed-master:9333",
    );
  });

  it("refuse an even count, and a pod past the count when only the replicas were raised", async () => {
    const objects = await readKustomization(K8S);
    const even = await startPod(withMasters(objects, 4), "weed-master", 0);
    expect(await even.exit()).toBe(2);
    expect(even.logs()).toMatch(/-peers.count: 4 masters: an even number tolerates no more failures than 3/);
    const past = await startPod(withMasters(objects, 3, 5), "weed-master", 3);
    expect(await past.exit()).toBe(2);
    expect(past.logs()).toMatch(/weed-master-3.weed-master:9333 is not one of the 3 masters/);
  });

  it("form a cluster of 3, take a file, grow to 5, fail over, take back a pod 0 that lost its volume", async () => {
    const three = await readKustomization(K8S);
    const first = await Promise.all([0, 1, 2].map((i) => startPod(three, "weed-master", i)));
    const leader = await agreedLeader([0, 1, 2], 3);
    expect(leader).toMatch(/^weed-master-[012]\.weed-master:9333$/);
    // The readiness probe: every master ready (a loaded machine may see one more election first).
    await eventually(
      async () => {
        for (const i of [0, 1, 2])
          expect((await request(`http://${masterIp(i)}:9333/cluster/healthz`)).statusCode).toBe(200);
      },
      { what: "every master ready", ...PROCESS_WAIT, timeoutMs: 30_000 },
    );

    await startPod(three, "weed-volume", 0);
    const submitted = await eventually(
      async () => {
        const form = new FormData();
        form.append("file", new Blob(["declared by count"]), "k8s.txt");
        const r = await getJson(`http://${masterIp(1)}:9333/submit`, { method: "POST", body: form });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
        return r.json as { fid: string; fileUrl: string };
      },
      { what: "an upload through a follower or the leader", ...PROCESS_WAIT },
    );
    // The master hands out the volume server's stable name, as clients in the cluster use it.
    expect(submitted.fileUrl).toBe(`weed-volume-0.weed-volume:8080/${submitted.fid}`);

    // The operator raises the count to 5 (ConfigMap and replicas) and applies: pods 3 and 4 start.
    const five = withMasters(three, 5);
    await Promise.all([3, 4].map((i) => startPod(five, "weed-master", i)));
    const grownLeader = await agreedLeader([0, 1, 2, 3, 4], 5);
    for (const p of first) expect(p.exited, `${p.name} kept running`).toBe(false);

    // kill -9 the leader: the other four elect a new one and the file is still served.
    const ordinal = Number(/^weed-master-(\d)/.exec(grownLeader)![1]);
    await pods.find((p) => p.name === `weed-master-${ordinal}` && !p.exited)!.kill9();
    const rest = [0, 1, 2, 3, 4].filter((i) => i !== ordinal);
    const next = await agreedLeader(rest, 5);
    expect(next).not.toBe(grownLeader);
    const lookup = await eventually(
      async () => {
        const r = await getJson(`http://${masterIp(rest[0]!)}:9333/dir/lookup?fileId=${submitted.fid}`);
        expect(r.status, JSON.stringify(r.json)).toBe(200);
        return r.json as { locations: { url: string }[] };
      },
      { what: "the file's volume known to the new leader", ...PROCESS_WAIT },
    );
    expect(lookup.locations.map((l) => l.url)).toEqual(["weed-volume-0.weed-volume:8080"]);
    const read = await request(`http://${volumeIp(0)}:8080/${submitted.fid}`);
    expect(await read.body.text()).toBe("declared by count");

    // weed-master-0's volume is lost. The operator removes it from the cluster (a voter that lost
    // its log must not come back under its old membership), and the pod starts empty: it asks the
    // running members first and joins their cluster instead of starting one of its own.
    await pods.find((p) => p.name === "weed-master-0" && !p.exited)?.kill9();
    await rm(join(tmp!.dir, "weed-master-0"), { recursive: true, force: true });
    const survivors = rest.filter((i) => i !== 0);
    await eventually(
      async () => {
        const url = `http://${masterIp(survivors[0]!)}:9333/cluster/raft/remove?id=weed-master-0.weed-master:9333`;
        const r = await getJson(url, { method: "POST" });
        // 404 on a retry: an earlier attempt whose answer was lost (503/504) did remove it.
        expect([200, 404], JSON.stringify(r.json)).toContain(r.status);
      },
      { what: "weed-master-0 removed from the cluster", ...PROCESS_WAIT },
    );
    const zero = await startPod(five, "weed-master", 0);
    const running = [0, ...survivors];
    await agreedLeader(running, 5);
    const clusterIds = await Promise.all(running.map(async (i) => (await raft(masterIp(i))).clusterId));
    expect(new Set(clusterIds).size, JSON.stringify(clusterIds)).toBe(1);
    expect(zero.logs()).toMatch(/a cluster is already running; joining it instead of starting one/);
  }, 180_000);
});
