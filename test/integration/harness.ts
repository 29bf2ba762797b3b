// Starts real weed-ts processes on loopback for integration tests, and stops only those.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";

export const BIN = resolve(import.meta.dirname, "../../bin/weed-ts.js");

/** How long a process may take to answer its health check after start. */
const START_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 50;

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

export async function tempDir(prefix = "weed-ts-it-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export class WeedProcess {
  readonly child: ChildProcess;
  readonly output: string[] = [];
  private exitPromise: Promise<number | null>;

  constructor(readonly args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc?.exited) throw new Error(`process exited before ${url} answered:\n${proc.logs()}`);
    try {
      const r = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      const body = await r.body.text();
      if (r.statusCode === 200) return;
      last = `${r.statusCode} ${body}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
  throw new Error(`timed out waiting for ${url}: ${last}\n${proc?.logs() ?? ""}`);
}

/** Polls `check` until it returns a value, bounded by `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
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
