// A closed-loop writer for membership and restart tests: `concurrency` workers, each writing one
// blob after another until stop(), with the run cut into named steps (mark) so a test or a bench
// can say how many writes each step acknowledged, failed, and how long it went without an ack.
//
// What "zero failed writes" means here (the rules the counts follow):
//  - A write = assign (GET /dir/assign on a master) + upload (PUT /<fid> on the volume server).
//  - The assign goes to the current master of the list. If it fails at the connection level
//    (ECONNREFUSED, the connection reset or closed before an answer, a connect timeout) the writer
//    moves to the next master and asks again: an assign that may have happened costs nothing but an
//    unused file id. At most assignRoundsMax rounds over the list per write; after that the
//    write counts as FAILED.
//  - Any HTTP error answer from a master (503 included) is a FAILED write, its message recorded:
//    the cluster was reachable and said no.
//  - Any failed upload (error answer, timeout, broken connection) is a FAILED write whose outcome is
//    unknown: it is not retried, not counted acked, and not verified.
//  - A 201 from the volume server is ACKED: its fid and payload seed are remembered for verify(),
//    which must read back every acknowledged write byte for byte.
// Every request has a timeout (requestTimeoutMs), every loop a count bound, the run a time bound.
import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher } from "undici";
import { ErrorCode, WeedError } from "../common/errors.js";
import { ContentBuffer } from "./bench-content.js";
import { ErrorTally, describeError, type ErrorCount } from "./error-tally.js";
import { RequestFailure, readJsonBody } from "./request-failure.js";
import { httpConnectOptions, httpOrigin } from "../common/security/https.js";

// ---- Bounds, with the reason for each number ----

/** Two passes over the master list: the first finds a live master, the second rides out a restart. */
const assignRoundsMax = 2;
/** Pause between the two rounds, so a master that is restarting has a moment to listen again. */
const assignRoundPauseMs = 100;
/** After a failed write: keeps a dead cluster from turning the workers into a busy loop. */
const failedWritePauseMs = 20;
const requestTimeoutMsDefault = 5_000;
/** A connect on loopback is instant; a slower one is a host that is not there. */
const connectTimeoutMsMax = 2_000;
const payloadBytesDefault = 1024;
/** The first 8 bytes carry the sequence number and the writer's salt: what makes payloads unique. */
const payloadBytesMin = 8;
/** Matches the volume server's default -fileSizeLimitMB 256. */
const payloadBytesMax = 256 * 1024 * 1024;
const concurrencyMax = 256;
const mastersMax = 64;
/** Acks remembered for verify() (a fid string and a number each, ~60 B): past this they are only counted. */
const acksRememberedMax = 1_000_000;
/** Writes per worker, on top of the time bound: a forgotten writer cannot run up a counter forever. */
const writesPerWorkerMax = 50_000_000;
/** A writer left running stops itself after this long. */
const runDurationMsMax = 4 * 60 * 60_000;
/** Named steps per run (a scenario has tens). */
const stepsMax = 10_000;
/** Distinct error messages kept per step and for the totals. */
const stepErrorKindsMax = 5;
/** Master answers (assign, lookup, error bodies) are tiny JSON. */
const answerBytesMax = 64 * 1024;
/** verify(): reads in flight, and attempts per fid before it counts as lost. */
const verifyConcurrency = 8;
const verifyAttemptsMax = 3;
const verifyRetryPauseMs = 200;
/** verify(): reasons kept for lost and wrong fids. */
const verifyMessagesMax = 10;

/** Socket-level failures before an answer: the master is down or restarting, so another one is asked. */
const CONNECTION_LEVEL_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET", // undici: the other side closed the socket
  "UND_ERR_CONNECT_TIMEOUT",
]);

export interface ContinuousWriterOptions {
  /** Masters as host:port; assigns go to one at a time, moving on when one is unreachable. */
  masters: readonly string[];
  payloadBytes?: number;
  /** Workers, each with one write in flight. */
  concurrency?: number;
  /** Bound on every single HTTP request (assign, upload, lookup, read). */
  requestTimeoutMs?: number;
}

export interface StepReport {
  step: string;
  durationMs: number;
  acked: number;
  failed: number;
  /** The longest time without an acknowledged write, the window's start and end included. */
  longestStallMs: number;
  errors: ErrorCount[];
}

export interface WriterReport {
  steps: StepReport[];
  totals: StepReport;
  /** Acked writes beyond acksRememberedMax, which verify() cannot check. */
  notRemembered: number;
}

export interface VerifyResult {
  checked: number;
  lost: number;
  wrong: number;
  /** The first few reasons, "fid: what went wrong". */
  errors: string[];
}

type ReadBack = { kind: "ok" } | { kind: "wrong" | "lost"; why: string };

interface Assignment {
  fid: string;
  url: string;
  auth: string | undefined;
}

/** Counts for one window of time; the totals are a window too, over the whole run. */
class Window {
  acked = 0;
  failed = 0;
  longestStallMs = 0;
  endMs: number | null = null;
  readonly errors = new ErrorTally(stepErrorKindsMax);
  private lastAckMs: number;

  constructor(
    readonly step: string,
    readonly startMs: number,
  ) {
    this.lastAckMs = startMs;
  }

  ack(atMs: number): void {
    this.acked++;
    this.longestStallMs = Math.max(this.longestStallMs, atMs - this.lastAckMs);
    this.lastAckMs = atMs;
  }

  fail(message: string): void {
    this.failed++;
    this.errors.add(message);
  }

  report(nowMs: number): StepReport {
    const end = this.endMs ?? nowMs;
    return {
      step: this.step,
      durationMs: end - this.startMs,
      acked: this.acked,
      failed: this.failed,
      longestStallMs: Math.max(this.longestStallMs, end - this.lastAckMs),
      errors: this.errors.list(),
    };
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  const causeCode = ((err as { cause?: unknown } | null)?.cause as { code?: unknown } | null | undefined)?.code;
  return typeof causeCode === "string" ? causeCode : undefined;
}

function isConnectionLevel(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && CONNECTION_LEVEL_CODES.has(code);
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `ContinuousWriter option ${name}: ${value} is not an integer in [${min}, ${max}]`,
    );
  }
  return value;
}

/** A bijection on 32-bit numbers (multiply by an odd constant, xor the salt): distinct seqs, distinct seeds. */
function seedOf(seq: number, salt: number): number {
  return (Math.imul(seq, 0x9e3779b1) ^ salt) >>> 0;
}

/** The payload of write `seq`: seq and salt in the first 8 bytes, pseudo-random bytes after. */
function fillPayload(buf: ContentBuffer, seq: number, salt: number, length: number): Buffer {
  const bytes = buf.fill(seedOf(seq, salt), length);
  bytes.writeUInt32BE(seq >>> 0, 0);
  bytes.writeUInt32BE(salt, 4);
  return bytes;
}

export class ContinuousWriter {
  private readonly masters: readonly string[];
  private readonly payloadBytes: number;
  private readonly concurrency: number;
  private readonly requestTimeoutMs: number;
  /** Per-writer random salt: two writers on one cluster never write the same bytes. */
  private readonly salt = randomInt(0, 2 ** 32);
  private agent: Agent | null = null;
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private workers: Promise<void>[] = [];
  private runDeadlineMs = 0;
  /** Index into masters of the one assigns go to; shared by the workers. */
  private cursor = 0;
  private nextSeq = 0;
  private readonly steps: Window[] = [];
  private totals: Window | null = null;
  private readonly ackedFids: string[] = [];
  private readonly ackedSeqs: number[] = [];
  private notRemembered = 0;

  constructor(options: ContinuousWriterOptions) {
    const masters = [...options.masters];
    if (masters.length === 0 || masters.length > mastersMax) {
      throw new WeedError(
        ErrorCode.BAD_PARAM,
        `ContinuousWriter option masters: ${masters.length} masters, want 1..${mastersMax}`,
      );
    }
    for (const m of masters) {
      if (!/^[^\s/:]+:\d+$/.test(m))
        throw new WeedError(
          ErrorCode.BAD_PARAM,
          `ContinuousWriter option masters: ${JSON.stringify(m)} is not host:port`,
        );
    }
    this.masters = masters;
    this.payloadBytes = checkInt(
      "payloadBytes",
      options.payloadBytes ?? payloadBytesDefault,
      payloadBytesMin,
      payloadBytesMax,
    );
    this.concurrency = checkInt("concurrency", options.concurrency ?? 1, 1, concurrencyMax);
    this.requestTimeoutMs = checkInt(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? requestTimeoutMsDefault,
      1,
      10 * 60_000,
    );
  }

  /** Starts the workers; the first step is "start" until mark() names another. Idempotent while running. */
  start(): void {
    if (this.state === "running") return;
    if (this.state !== "new") throw new WeedError(ErrorCode.CLOSED, "ContinuousWriter: start() after stop()");
    this.state = "running";
    this.agent = this.newAgent();
    const now = performance.now();
    this.totals = new Window("total", now);
    this.steps.push(new Window("start", now));
    this.runDeadlineMs = now + runDurationMsMax;
    for (let w = 0; w < this.concurrency; w++) this.workers.push(this.work(this.agent));
  }

  /** Ends the current step and starts one named `step`. */
  mark(step: string): void {
    if (this.state !== "running")
      throw new WeedError(ErrorCode.CLOSED, `ContinuousWriter: mark(${JSON.stringify(step)}) while ${this.state}`);
    if (this.steps.length >= stepsMax)
      throw new WeedError(ErrorCode.BAD_PARAM, `ContinuousWriter: more than ${stepsMax} steps`);
    const now = performance.now();
    const current = this.steps[this.steps.length - 1];
    if (current !== undefined) current.endMs = now;
    this.steps.push(new Window(step, now));
  }

  /**
   * Stops starting writes and waits for the ones in flight. Each ends within its own request
   * timeouts; past the worst case for one write the sockets are destroyed (those writes count
   * as failed). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === "new") {
      this.state = "stopped";
      return;
    }
    if (this.state !== "running") return this.waitStopped();
    this.state = "stopping";
    const end = performance.now();
    const current = this.steps[this.steps.length - 1];
    if (current !== undefined) current.endMs = end;
    if (this.totals !== null) this.totals.endMs = end;
    const worstWriteMs =
      (assignRoundsMax * this.masters.length + 1) * this.requestTimeoutMs + assignRoundPauseMs + failedWritePauseMs;
    const all = Promise.allSettled(this.workers);
    const settled = await Promise.race([all.then(() => true), sleep(worstWriteMs, false)]);
    await this.agent?.destroy().catch(() => {});
    if (!settled) await Promise.race([all, sleep(this.requestTimeoutMs)]);
    this.agent = null;
    this.state = "stopped";
  }

  private async waitStopped(): Promise<void> {
    // A second stop() while the first is draining: wait for the same workers, bounded the same way.
    for (let i = 0; i < 10_000 && this.state === "stopping"; i++) await sleep(10);
  }

  /** Per-step counts and the totals; live while running (the current step's window ends now). */
  report(): WriterReport {
    const now = performance.now();
    const totals = this.totals?.report(now) ?? {
      step: "total",
      durationMs: 0,
      acked: 0,
      failed: 0,
      longestStallMs: 0,
      errors: [],
    };
    return { steps: this.steps.map((s) => s.report(now)), totals, notRemembered: this.notRemembered };
  }

  /**
   * Reads back every remembered acknowledged write (lookup through the masters, then GET from the
   * volume server) and compares it byte for byte. Best after stop(); while running it checks the
   * acks so far. A fid that answers 404, or cannot be read in verifyAttemptsMax tries, is lost.
   */
  async verify(): Promise<VerifyResult> {
    const count = this.ackedFids.length;
    const agent = this.newAgent();
    const locations = new Map<string, Promise<string[]>>();
    const result: VerifyResult = { checked: 0, lost: 0, wrong: 0, errors: [] };
    let next = 0;
    const note = (msg: string): void => {
      if (result.errors.length < verifyMessagesMax) result.errors.push(msg);
    };
    const worker = async (): Promise<void> => {
      const buf = new ContentBuffer(this.payloadBytes);
      for (let i = next++; i < count; i = next++) {
        const fid = this.ackedFids[i]!;
        const want = fillPayload(buf, this.ackedSeqs[i]!, this.salt, this.payloadBytes);
        const outcome = await this.readBack(agent, locations, fid, want);
        result.checked++;
        if (outcome.kind === "ok") continue;
        if (outcome.kind === "wrong") result.wrong++;
        else result.lost++;
        note(`${fid}: ${outcome.kind}: ${outcome.why}`);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(verifyConcurrency, Math.max(1, count)) }, worker));
    } finally {
      await agent.destroy().catch(() => {});
    }
    return result;
  }

  // ---- internals ----

  private newAgent(): Agent {
    return new Agent({
      connections: this.concurrency + verifyConcurrency,
      pipelining: 1,
      connect: httpConnectOptions({ timeout: Math.min(connectTimeoutMsMax, this.requestTimeoutMs) }),
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
    });
  }

  private request(
    agent: Agent,
    hostPort: string,
    opts: Omit<Dispatcher.RequestOptions, "origin">,
  ): Promise<Dispatcher.ResponseData> {
    return agent.request({ ...opts, origin: httpOrigin(hostPort), signal: AbortSignal.timeout(this.requestTimeoutMs) });
  }

  private async work(agent: Agent): Promise<void> {
    const buf = new ContentBuffer(this.payloadBytes);
    for (let n = 0; n < writesPerWorkerMax && this.state === "running" && performance.now() < this.runDeadlineMs; n++) {
      const ok = await this.writeOnce(agent, buf);
      if (!ok) await sleep(failedWritePauseMs);
    }
  }

  /** One write, counted in the current step; true when acknowledged. */
  private async writeOnce(agent: Agent, buf: ContentBuffer): Promise<boolean> {
    const seq = this.nextSeq++;
    try {
      const a = await this.assign(agent);
      const body = fillPayload(buf, seq, this.salt, this.payloadBytes);
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      if (a.auth !== undefined) headers["authorization"] = a.auth;
      let res: Dispatcher.ResponseData;
      try {
        res = await this.request(agent, a.url, { method: "PUT", path: `/${a.fid}`, headers, body });
      } catch (err) {
        throw new RequestFailure(`upload to ${a.url}: ${describeError(err)}`, { cause: err });
      }
      if (res.statusCode !== 201) {
        const answer = await readJsonBody(res, answerBytesMax, "upload");
        throw new RequestFailure(`upload to ${a.url}: HTTP ${res.statusCode}: ${String(answer["error"] ?? "")}`);
      }
      await res.body.dump();
      this.acked(a.fid, seq);
      return true;
    } catch (err) {
      const msg = err instanceof RequestFailure ? err.message : describeError(err);
      this.steps[this.steps.length - 1]?.fail(msg);
      this.totals?.fail(msg);
      return false;
    }
  }

  private acked(fid: string, seq: number): void {
    const now = performance.now();
    this.steps[this.steps.length - 1]?.ack(now);
    this.totals?.ack(now);
    if (this.ackedFids.length < acksRememberedMax) {
      this.ackedFids.push(fid);
      this.ackedSeqs.push(seq);
    } else {
      this.notRemembered++;
    }
  }

  /** GET /dir/assign, moving along the master list past unreachable ones (see the rules at the top). */
  private async assign(agent: Agent): Promise<Assignment> {
    const n = this.masters.length;
    let idx = this.cursor;
    let last = "";
    for (let attempt = 0; attempt < assignRoundsMax * n; attempt++) {
      if (attempt > 0 && attempt % n === 0) await sleep(assignRoundPauseMs);
      const master = this.masters[idx]!;
      let res: Dispatcher.ResponseData;
      try {
        res = await this.request(agent, master, { method: "GET", path: "/dir/assign" });
      } catch (err) {
        if (!isConnectionLevel(err))
          throw new RequestFailure(`assign via ${master}: ${describeError(err)}`, { cause: err });
        last = `${master}: ${codeOf(err)}`;
        const nextIdx = (idx + 1) % n;
        // Only the first worker to see this master fail moves the shared cursor.
        if (this.cursor === idx) this.cursor = nextIdx;
        idx = nextIdx;
        continue;
      }
      let body: Record<string, unknown>;
      try {
        body = await readJsonBody(res, answerBytesMax, `assign via ${master}`);
      } catch (err) {
        // The headers came: the master answered, so this is not a reason to ask another one.
        throw new RequestFailure(`assign via ${master}: ${describeError(err)}`, { cause: err });
      }
      const fid = body["fid"];
      const url = body["url"];
      if (res.statusCode !== 200 || typeof fid !== "string" || typeof url !== "string" || fid === "" || url === "") {
        throw new RequestFailure(
          `assign via ${master}: HTTP ${res.statusCode}: ${String(body["error"] ?? "no fid in answer")}`,
        );
      }
      const auth = res.headers["authorization"];
      return { fid, url, auth: typeof auth === "string" ? auth : undefined };
    }
    throw new RequestFailure(`assign: no master reachable in ${assignRoundsMax} rounds over ${n} (last ${last})`);
  }

  /** What reading one acknowledged fid back found. */
  private async readBack(
    agent: Agent,
    locations: Map<string, Promise<string[]>>,
    fid: string,
    want: Buffer,
  ): Promise<ReadBack> {
    const vid = fid.slice(0, Math.max(0, fid.indexOf(",")));
    let last = "";
    for (let attempt = 0; attempt < verifyAttemptsMax; attempt++) {
      if (attempt > 0) await sleep(verifyRetryPauseMs);
      let urls: string[];
      try {
        let found = locations.get(vid);
        if (found === undefined) {
          found = this.lookup(agent, vid);
          locations.set(vid, found);
        }
        urls = await found;
      } catch (err) {
        locations.delete(vid);
        last = `lookup: ${describeError(err)}`;
        continue;
      }
      for (const url of urls) {
        try {
          const res = await this.request(agent, url, { method: "GET", path: `/${fid}` });
          if (res.statusCode === 404) {
            await res.body.dump();
            return { kind: "lost", why: `${url} answered 404` };
          }
          if (res.statusCode !== 200) {
            const answer = await readJsonBody(res, answerBytesMax, "read");
            last = `read from ${url}: HTTP ${res.statusCode}: ${String(answer["error"] ?? "")}`;
            continue;
          }
          const got = Buffer.from(await res.body.bytes());
          if (got.equals(want)) return { kind: "ok" };
          return {
            kind: "wrong",
            why: `${url} served ${got.length} bytes that differ from the ${want.length} written`,
          };
        } catch (err) {
          last = `read from ${url}: ${describeError(err)}`;
        }
      }
    }
    return { kind: "lost", why: `unreadable after ${verifyAttemptsMax} attempts (${last})` };
  }

  /** The volume server addresses for `vid`, asked of each master in turn until one answers. */
  private async lookup(agent: Agent, vid: string): Promise<string[]> {
    let last = "";
    for (let k = 0; k < this.masters.length; k++) {
      const master = this.masters[(this.cursor + k) % this.masters.length]!;
      try {
        const res = await this.request(agent, master, {
          method: "GET",
          path: `/dir/lookup?volumeId=${encodeURIComponent(vid)}`,
        });
        const body = await readJsonBody(res, answerBytesMax, "lookup");
        const urls: string[] = [];
        const locs = body["locations"];
        if (Array.isArray(locs)) {
          for (const loc of locs as unknown[]) {
            const url = (loc as { url?: unknown } | null)?.url;
            if (typeof url === "string" && url !== "") urls.push(url);
          }
        }
        if (res.statusCode === 200 && urls.length > 0) return urls;
        last = `${master}: HTTP ${res.statusCode}: ${String(body["error"] ?? "no locations")}`;
      } catch (err) {
        last = `${master}: ${describeError(err)}`;
      }
    }
    throw new RequestFailure(`lookup volume ${vid}: no master answered with locations (last ${last})`);
  }
}
