// Runs what deploy/ declares (Kubernetes pods, compose services, the image's ENTRYPOINT) as local
// weed-ts processes, doing what the platform would: $(VAR) expansion from the pod's env, the
// image's ENTRYPOINT before the args, a mounted volume at its own directory, a network of its own
// (a loopback address per pod: a bind to 0.0.0.0 in the pod binds that address here), and cluster
// DNS (cluster-dns-shim.mjs answers the pods' stable names with their loopback addresses).
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseAllDocuments } from "yaml";
import { BIN } from "./harness.js";

export const REPO = resolve(import.meta.dirname, "../..");
const DNS_SHIM = pathToFileURL(join(import.meta.dirname, "cluster-dns-shim.mjs")).href;

/** A parsed Kubernetes object: only what the tests read is typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: any;
}

/** Every object of the files a kustomization.yaml lists, in order. */
export async function readKustomization(dir: string): Promise<K8sObject[]> {
  const kustomization = await readYaml(join(dir, "kustomization.yaml"));
  const out: K8sObject[] = [];
  for (const file of (kustomization[0] as { resources: string[] }).resources)
    out.push(...((await readYaml(join(dir, file))) as K8sObject[]));
  return out;
}

export async function readYaml(file: string): Promise<unknown[]> {
  // merge: the `<<: *anchor` keys compose files use (YAML 1.1), which Docker Compose reads.
  const docs = parseAllDocuments(await readFile(file, "utf8"), { merge: true });
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as unknown);
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name}`);
  return o;
}

/** Kubernetes' expansion of $(VAR) in args: a defined variable is replaced, $$( escapes, others stay. */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$(\$|\(([A-Za-z_][A-Za-z0-9_]*)\))/g, (whole, escaped: string, name?: string) => {
    if (escaped === "$") return "$";
    return name !== undefined && env[name] !== undefined ? env[name] : whole;
  });
}

/** A container's env as the kubelet gives it: values, the pod's name, ConfigMap keys. */
export function containerEnv(container: any, podName: string, objects: readonly K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = podName;
    else if (e.valueFrom?.configMapKeyRef !== undefined) {
      const ref = e.valueFrom.configMapKeyRef as { name: string; key: string };
      const value = find(objects, "ConfigMap", ref.name).data?.[ref.key];
      if (value === undefined) throw new Error(`ConfigMap ${ref.name} has no key ${ref.key}`);
      env[e.name] = value;
    } else throw new Error(`env ${e.name}: a source these tests do not emulate`);
  }
  return env;
}

/** The exec-form ENTRYPOINT and CMD of a Dockerfile's last stage. */
export function dockerfileExec(text: string): { entrypoint: string[]; cmd: string[] } {
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  const exec = (instr: string): string[] => {
    const m = new RegExp(`^${instr} (\\[.*\\])\\s*$`, "m").exec(last);
    if (m === null) throw new Error(`no exec-form ${instr} in the Dockerfile's last stage`);
    return JSON.parse(m[1]!) as string[];
  };
  return { entrypoint: exec("ENTRYPOINT"), cmd: exec("CMD") };
}

/** The image's `node /app/bin/weed-ts.js` is this checkout's node and bin. */
export function weedTsArgs(argv: readonly string[], appDir = "/app"): string[] {
  if (argv[0] !== "node" || argv[1] !== `${appDir}/bin/weed-ts.js`)
    throw new Error(`expected "node ${appDir}/bin/weed-ts.js ...", got ${JSON.stringify(argv)}`);
  return argv.slice(2);
}

/** A container's network and mounts here: its own loopback address, and a directory per mount. */
export interface Placement {
  ip: string;
  mounts: Readonly<Record<string, string>>;
}

/** `-flag=/mount/path...` -> this host's directory; a bind to every address -> the pod's own. */
export function placeArgs(args: readonly string[], where: Placement): string[] {
  return args.map((a) => {
    let out = a.replace(/=0\.0\.0\.0$/, `=${where.ip}`);
    for (const [path, dir] of Object.entries(where.mounts))
      if (out.includes(`=${path}`)) out = out.replace(new RegExp(`=${path}(?=/|$)`), `=${dir}`);
    return out;
  });
}

/** A weed-ts process standing in for a container, resolving names through `hostsFile` (JSON: name -> ip). */
export class ContainerProcess {
  readonly child: ChildProcess;
  private readonly output: string[] = [];
  private readonly exitPromise: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    hostsFile: string,
  ) {
    const env = { ...process.env, NODE_OPTIONS: `--import=${DNS_SHIM}`, WEED_TEST_HOSTS_FILE: hostsFile };
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    const keep = (b: Buffer): void => {
      // Only the tail: a long test's logs must not grow without bound.
      this.output.push(b.toString());
      if (this.output.length > 2000) this.output.splice(0, 1000);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.exitPromise = new Promise((res) => this.child.once("exit", (code) => res(code)));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  exit(): Promise<number | null> {
    return this.exitPromise;
  }

  async kill9(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGKILL");
    await this.exitPromise;
  }

  logs(): string {
    return this.output.join("");
  }
}
