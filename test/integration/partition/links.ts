// Cuts and heals links between the partition tests' hosts with iptables, dropping packets on the
// RECEIVING side (filter INPUT) as a real network loses them: the sender's write succeeds, TCP
// retransmits and backs off as it would between machines (a DROP in OUTPUT would hand the sender
// an immediate EPERM instead).
//
// Every host is one bit. On loopback a client's source address is 127.0.0.1 whoever it is, so a
// connection is tagged (CONNMARK, in OUTPUT) with the bit of each host that sends on it, known by
// the socket's owner uid, and with the bit of the host it was opened to, known by its original
// destination address and port (each host listens on its own address). A connection between hosts
// A and B thus carries BIT(A)|BIT(B) from its SYN on, and a cut link (A,B) is one rule in our INPUT
// chain dropping connmark BIT(A)|BIT(B): established streams stall, a new connect hangs (its SYN
// is lost), exactly as across a cut cable. A one-way cut (A->B) also needs to know a packet's
// sender: OUTPUT sets the packet's mark to BIT(sender) by owner uid, or by source address and port
// for packets sent without a full socket (SYN-ACKs). Connections of the test process itself (uid 0,
// to one host) carry one bit and are never cut.
//
// Chains are WEEDTS-<pid>-OUT / -IN, jumped to from OUTPUT / INPUT, and removed on close(), on
// process exit and on SIGINT/SIGTERM; chains left by a dead pid are removed on open().
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import type { Host, HostName } from "./hosts.js";
import { onExitSync } from "./exit-hooks.js";
import { GRPC_OFFSET } from "./hosts.js";

const run = promisify(execFile);
const CHAIN_PREFIX = "WEEDTS-";
/** Host bits start here: bit 8 up, so the low byte other tools like to use stays untouched. */
const FIRST_BIT = 8;

function iptSync(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync("iptables", ["-w", ...args], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

async function ipt(args: string[]): Promise<void> {
  await run("iptables", ["-w", ...args]);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function removeChainsSync(pid: number): void {
  const out = `${CHAIN_PREFIX}${pid}-OUT`;
  const inp = `${CHAIN_PREFIX}${pid}-IN`;
  // A jump may have been added twice by nothing we know of; delete until none is left (bounded).
  for (let i = 0; i < 10 && iptSync(["-D", "OUTPUT", "-j", out]).ok; i++);
  for (let i = 0; i < 10 && iptSync(["-D", "INPUT", "-j", inp]).ok; i++);
  for (const c of [out, inp]) {
    iptSync(["-F", c]);
    iptSync(["-X", c]);
  }
}

/** Removes the chains of runs whose process is gone (a crash, a kill -9 of vitest). */
export function removeStaleChains(): number[] {
  const pids = new Set<number>();
  for (const m of iptSync(["-S"]).out.matchAll(/^-N WEEDTS-(\d+)-(?:OUT|IN)$/gm)) pids.add(Number(m[1]));
  const stale = [...pids].filter((p) => p !== process.pid && !pidAlive(p));
  for (const p of stale) removeChainsSync(p);
  return stale;
}

export type Cut = { from: HostName; to: HostName; oneWay: boolean };

export class Links {
  private readonly out = `${CHAIN_PREFIX}${process.pid}-OUT`;
  private readonly inp = `${CHAIN_PREFIX}${process.pid}-IN`;
  private readonly bits = new Map<HostName, number>();
  /** Rule spec (after "-A chain") of each cut in place, by key. */
  private readonly cuts = new Map<string, string[]>();
  private closed = false;
  private readonly unhook = onExitSync(() => this.closeSync());

  private constructor(hosts: readonly Host[]) {
    hosts.forEach((h, i) => this.bits.set(h.name, 1 << (FIRST_BIT + i)));
  }

  /** Creates this run's chains with the tagging rules for `hosts` listening on `port` (and port+10000). */
  static async open(hosts: readonly Host[], port: number): Promise<Links> {
    removeStaleChains();
    const l = new Links(hosts);
    removeChainsSync(process.pid); // a previous Links of this same process not closed
    await ipt(["-N", l.out]);
    await ipt(["-N", l.inp]);
    // A connection attempt starts with no host bits: conntrack may reuse the entry of an earlier
    // connection with the same addresses and ports (in TIME_WAIT for two minutes) and its marks,
    // which once cut a new connection between the test's writer (no uid bit) and a host.
    let all = 0;
    for (const b of l.bits.values()) all |= b;
    await ipt(["-A", l.out, "-p", "tcp", "--syn", "-j", "CONNMARK", "--set-xmark", `0x0/${hex(all)}`]);
    for (const h of hosts) {
      const bit = hex(l.bits.get(h.name)!);
      await ipt(["-A", l.out, "-m", "owner", "--uid-owner", String(h.uid), "-j", "CONNMARK", "--or-mark", bit]);
      await ipt(["-A", l.out, "-m", "owner", "--uid-owner", String(h.uid), "-j", "MARK", "--or-mark", bit]);
      for (const p of [port, port + GRPC_OFFSET]) {
        const dst = ["-p", "tcp", "-m", "conntrack", "--ctorigdst", h.addr, "--ctorigdstport", String(p)];
        await ipt(["-A", l.out, ...dst, "-j", "CONNMARK", "--or-mark", bit]);
        await ipt(["-A", l.out, "-p", "tcp", "-s", h.addr, "--sport", String(p), "-j", "MARK", "--or-mark", bit]);
      }
    }
    await ipt(["-I", "OUTPUT", "1", "-j", l.out]);
    await ipt(["-I", "INPUT", "1", "-j", l.inp]);
    return l;
  }

  private bit(h: HostName): number {
    const b = this.bits.get(h);
    if (b === undefined) throw new Error(`unknown host ${h}`);
    return b;
  }

  private spec(c: Cut): string[] {
    const both = hex(this.bit(c.from) | this.bit(c.to));
    const base = ["-m", "connmark", "--mark", `${both}/${both}`];
    const sender = hex(this.bit(c.from));
    return c.oneWay ? [...base, "-m", "mark", "--mark", `${sender}/${sender}`, "-j", "DROP"] : [...base, "-j", "DROP"];
  }

  private static key(c: Cut): string {
    return c.oneWay ? `${c.from}>${c.to}` : [c.from, c.to].sort().join("|");
  }

  /** Cuts the link between a and b both ways (a no-op if already cut). Resolves once the rule is in. */
  async cut(a: HostName, b: HostName): Promise<void> {
    await this.add({ from: a, to: b, oneWay: false });
  }

  /** Drops what `from` sends to `to` only; `to`'s packets still reach `from`. */
  async cutOneWay(from: HostName, to: HostName): Promise<void> {
    await this.add({ from, to, oneWay: true });
  }

  /** Cuts `h` from every one of `others`. */
  async isolate(h: HostName, others: readonly HostName[]): Promise<void> {
    for (const o of others) if (o !== h) await this.cut(h, o);
  }

  async heal(a: HostName, b: HostName): Promise<void> {
    await this.remove({ from: a, to: b, oneWay: false });
  }

  async healOneWay(from: HostName, to: HostName): Promise<void> {
    await this.remove({ from, to, oneWay: true });
  }

  /** Removes every cut at once (one flush: all links come back at the same instant). */
  async healAll(): Promise<void> {
    await ipt(["-F", this.inp]);
    this.cuts.clear();
  }

  cutsInPlace(): string[] {
    return [...this.cuts.keys()];
  }

  private async add(c: Cut): Promise<void> {
    const key = Links.key(c);
    if (this.cuts.has(key)) return;
    const spec = this.spec(c);
    this.cuts.set(key, spec);
    await ipt(["-A", this.inp, ...spec]);
  }

  private async remove(c: Cut): Promise<void> {
    const key = Links.key(c);
    const spec = this.cuts.get(key);
    if (spec === undefined) return;
    this.cuts.delete(key);
    await ipt(["-D", this.inp, ...spec]);
  }

  /** Rule counters of the INPUT chain, for a failure report ("did the cut drop anything?"). */
  listing(): string {
    return iptSync(["-L", this.inp, "-v", "-n"]).out;
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  private closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    removeChainsSync(process.pid);
    this.unhook();
  }
}
