// Starts real weed-ts processes on loopback for integration tests, and stops only those.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { request } from "undici";
import { eventually, type WaitOptions } from "../helpers.js";

export const BIN = resolve(import.meta.dirname, "../../bin/weed-ts.js");

/** How long a process may take to answer its health check after start. */
const START_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 50;

/**
 * For eventually/waitFor on what processes reach (a leader, a registered volume server, a caught-up
 * master): they start, elect and reconnect with backoff on a shared two-core machine, so the bound
 * is wider than in-process tests need, and the polls (HTTP requests) are spaced out.
 */
export const PROCESS_WAIT = { timeoutMs: 20_000, intervalMs: 100 } as const satisfies Omit<WaitOptions, "what">;

/**
 * Ports for processes a test starts. A port is found free, released, and bound later by the child,
 * so two test files picking at once (vitest runs files in parallel workers) could pick the same
 * one. Each worker therefore picks from its own slice of 10000-19999 (its gRPC ports, +10000, from
 * 20000-29999), below the kernel's ephemeral range where listen(0) and outgoing connections land,
 * and never hands out a port twice.
 */
const PORT_SLICES = 4;
const PORT_SLICE_SIZE = 2500;
const PORT_BASE = 10_000;
const GRPC_OFFSET = 10_000;
const workerSlice = (Math.max(1, Number(process.env.VITEST_POOL_ID ?? "1")) - 1) % PORT_SLICES;
const handedOut = new Set<number>();

async function pickPort(needGrpcToo: boolean): Promise<number> {
  const base = PORT_BASE + workerSlice * PORT_SLICE_SIZE;
  for (let attempt = 0; attempt < 500; attempt++) {
    const p = base + Math.floor(Math.random() * PORT_SLICE_SIZE);
    if (handedOut.has(p)) continue;
    if (!(await isFree(p)) || (needGrpcToo && !(await isFree(p + GRPC_OFFSET)))) continue;
    handedOut.add(p);
    return p;
  }
  throw new Error(`no free port in ${base}-${base + PORT_SLICE_SIZE - 1} after 500 attempts`);
}

/** A free loopback port whose port+10000 (the default gRPC port) is free too. */
export function freePortPair(): Promise<number> {
  return pickPort(true);
}

/** `n` distinct port pairs (see freePortPair). */
export async function freePortPairs(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePortPair());
  return out;
}

/** A loopback address nothing listens on (bound once, then released): connecting is refused. */
export async function deadAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/** A free loopback port (for a process that does not also need port+10000). */
export function freePort(): Promise<number> {
  return pickPort(false);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

export class WeedProcess {
  readonly child: ChildProcess;
  readonly output: string[] = [];
  private exitPromise: Promise<number | null>;

  /** `as`: run as this uid/gid (the partition tests give each host its own user; needs root). */
  constructor(
    readonly args: string[],
    as: { uid: number; gid: number } | Record<string, never> = {},
  ) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], ...as });
    const keep = (b: Buffer): void => {
      // Keep only the tail: logs of a long test must not grow without bound.
      this.output.push(b.toString());
      if (this.output.length > 2000) this.output.splice(0, 1000);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.exitPromise = new Promise((res) => this.child.once("exit", (code) => res(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  exit(): Promise<number | null> {
    return this.exitPromise;
  }

  /** kill -9: the process gets no chance to flush or close anything. */
  async kill9(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGKILL");
    await this.exitPromise;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  logs(): string {
    return this.output.join("");
  }
}

/** Polls `url` until it answers 200, the process dies, or the timeout passes. */
export async function waitHttpOk(url: string, proc?: WeedProcess, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const exited = new AbortController();
  const onExit = (): void => exited.abort();
  if (proc?.exited) onExit();
  else proc?.child.once("exit", onExit);
  try {
    await eventually(
      async () => {
        const r = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
        const body = await r.body.text();
        if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${body}`);
      },
      { what: url, timeoutMs, intervalMs: POLL_INTERVAL_MS, signal: exited.signal },
    );
  } catch (err) {
    if (proc === undefined) throw err;
    // Logs read now, not at the exit: the last of its output arrives after the exit event.
    const what = exited.signal.aborted ? `process exited before ${url} answered` : (err as Error).message;
    throw new Error(`${what}:\n${proc.logs()}`, { cause: err });
  } finally {
    proc?.child.off("exit", onExit);
  }
}

export async function getJson(
  url: string,
  init: Parameters<typeof request>[1] = {},
): Promise<{ status: number; json: any; headers: Record<string, string | string[] | undefined> }> {
  const r = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000, ...init });
  const text = await r.body.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.statusCode, json, headers: r.headers };
}
