// Checks on this kernel that links.ts cuts what it claims, with two tiny processes under two hosts'
// uids on the hosts' address and port (before the weed-ts processes take it): an established
// connection stalls while cut and carries on after the heal (TCP retransmits, nothing is reset), a
// connect during a cut hangs, and a one-way cut drops one direction only. The scenarios' numbers
// mean nothing if the rules are not matched, so a surprise here fails loudly.
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { Host } from "./hosts.js";
import type { Links } from "./links.js";

/** Longer than a loopback round trip by far; short enough for the probe to take a few seconds. */
const SILENCE_MS = 1_000;
/** TCP's first retransmissions come 0.2, 0.6, 1.4 s after the loss: a heal is used within this. */
const RESUME_MS = 3_000;

const SERVER = `
const net = require("node:net");
const [addr, port] = process.argv.slice(1);
net.createServer((s) => {
  s.on("data", (d) => { process.stdout.write("got " + d); s.write(d); });
  s.on("error", () => {});
}).listen(Number(port), addr, () => process.stdout.write("ready\\n"));
`;

const CLIENT = `
const net = require("node:net");
const [addr, port] = process.argv.slice(1);
const s = net.connect(Number(port), addr, () => process.stdout.write("connected\\n"));
s.on("data", (d) => process.stdout.write("echo " + d));
s.on("error", (e) => process.stdout.write("error " + e.message + "\\n"));
process.stdin.on("data", (d) => s.write(d));
`;

class Proc {
  private out = "";
  readonly child: ChildProcess;

  constructor(script: string, args: string[], as: Host) {
    this.child = spawn(process.execPath, ["-e", script, ...args], {
      uid: as.uid,
      gid: as.uid,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (b: Buffer) => (this.out += b.toString()));
    this.child.stderr!.on("data", (b: Buffer) => (this.out += b.toString()));
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Whether `text` appears in the output within `ms`. */
  async saw(text: string, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      if (this.out.includes(text)) return true;
      await sleep(20);
    }
    return this.out.includes(text);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/**
 * Runs the probe between hosts `a` (client) and `b` (server, on its address and `port`); returns
 * what did not behave as a cut cable would (empty when all did).
 */
export async function probeLinks(links: Links, a: Host, b: Host, port: number): Promise<string[]> {
  const wrong: string[] = [];
  const expect = (ok: boolean, what: string): void => {
    if (!ok) wrong.push(what);
  };
  const server = new Proc(SERVER, [b.addr, String(port)], b);
  const clients: Proc[] = [];
  const client = (): Proc => {
    const c = new Proc(CLIENT, [b.addr, String(port)], a);
    clients.push(c);
    return c;
  };
  try {
    if (!(await server.saw("ready", 5_000))) return [`probe server did not start as uid ${b.uid}`];
    const c = client();
    expect(await c.saw("connected", 5_000), "connect before any cut");
    c.send("one");
    expect(await c.saw("echo one", SILENCE_MS), "a round trip before any cut");
    await links.cut(a.name, b.name);
    c.send("two");
    expect(!(await server.saw("got two", SILENCE_MS)), "an established connection stalls while cut");
    await links.heal(a.name, b.name);
    expect(await c.saw("echo two", RESUME_MS), "the stalled connection resumes after the heal");
    await links.cut(a.name, b.name);
    const late = client();
    expect(!(await late.saw("connected", SILENCE_MS)), "a connect during a cut hangs");
    await links.heal(a.name, b.name);
    await links.cutOneWay(b.name, a.name);
    c.send("three");
    expect(await server.saw("got three", SILENCE_MS), "one-way cut b->a: a's packets still reach b");
    expect(!(await c.saw("echo three", SILENCE_MS)), "one-way cut b->a: b's answer is dropped");
    await links.healOneWay(b.name, a.name);
    expect(await c.saw("echo three", RESUME_MS), "one-way cut healed: the answer arrives");
    await links.cutOneWay(a.name, b.name);
    c.send("four");
    expect(!(await server.saw("got four", SILENCE_MS)), "one-way cut a->b: a's packets are dropped");
    await links.healOneWay(a.name, b.name);
    expect(await c.saw("echo four", RESUME_MS), "one-way cut a->b healed: the request and answer arrive");
  } finally {
    await links.healAll();
    for (const p of [server, ...clients]) p.kill();
  }
  return wrong;
}
