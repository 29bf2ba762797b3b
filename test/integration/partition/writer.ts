// A bounded open-loop writer for the partition tests: every INTERVAL_MS it starts one write through
// each target master (unless that master already has IN_FLIGHT_MAX writes out), alternating
// `POST /submit` (the master assigns and uploads) and assign + upload (`GET /dir/assign` on the
// master, then `PUT /<fid>` on the volume server it named). Writes are started on a clock, not
// after the last one ended, so a write that hangs does not hide when writes resumed.
//
// Every write ends as "ack" (the store said 201: the bytes must read back later) or "failed"
// (outcome unknown: the bytes may or may not be stored; never counted as "not written").
import { randomBytes } from "node:crypto";
import { Agent, FormData, request } from "undici";
import type { Cluster, MasterName } from "./hosts.js";

/** One write started per target master per interval: ~10 writes/s per master. */
const INTERVAL_MS = 100;
/** Writes out at once through one master; past it the writer skips that master's turn. */
const IN_FLIGHT_MAX = 40;
/**
 * Client-side bound on every request. Longer than any timeout the product documents for a client
 * to see (a forward, an upload's 10 s bound in the scenarios), so a hang shows up as its real length
 * up to here; short enough to keep a scenario's drain bounded.
 */
export const CLIENT_TIMEOUT_MS = 15_000;
/** Total writes in one run (a safety net; a run of all scenarios makes ~4,000). */
const WRITES_MAX = 50_000;
const BLOB_BYTES_MIN = 64;
const BLOB_BYTES_SPAN = 2_000;

export interface RequestTiming {
  what: "submit" | "assign" | "upload";
  via: string;
  start: number;
  ms: number;
  status: number | undefined;
}

export interface WriteRecord {
  seq: number;
  kind: "submit" | "assign";
  via: MasterName;
  start: number;
  end: number | undefined;
  outcome: "pending" | "ack" | "failed";
  status: number | undefined;
  error: string | undefined;
  fid: string | undefined;
  /** The volume server ("addr:port") the fid was assigned to. */
  volume: string | undefined;
  /** When the answer naming fid and volume server arrived. */
  assignedAt: number | undefined;
  data: Buffer;
  requests: RequestTiming[];
}

export class Writer {
  readonly records: WriteRecord[] = [];
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connections: 256 });
  private readonly inFlight = new Map<MasterName, number>();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private targets: readonly MasterName[] = [];
  private seq = 0;

  constructor(private readonly cluster: Cluster) {}

  /** Starts (or retargets) the writer: from now on writes go through `targets`. */
  start(targets: readonly MasterName[]): void {
    this.targets = targets;
    this.timer ??= setInterval(() => this.tick(), INTERVAL_MS);
  }

  /** Stops starting writes and waits for those out (each bounded by CLIENT_TIMEOUT_MS). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    await this.stop();
    await this.agent.close();
  }

  private tick(): void {
    for (const via of this.targets) {
      if ((this.inFlight.get(via) ?? 0) >= IN_FLIGHT_MAX || this.seq >= WRITES_MAX) continue;
      const rec: WriteRecord = {
        seq: this.seq++,
        kind: this.seq % 2 === 0 ? "submit" : "assign",
        via,
        start: performance.now(),
        end: undefined,
        outcome: "pending",
        status: undefined,
        error: undefined,
        fid: undefined,
        volume: undefined,
        assignedAt: undefined,
        data: randomBytes(BLOB_BYTES_MIN + Math.floor(Math.random() * BLOB_BYTES_SPAN)),
        requests: [],
      };
      this.records.push(rec);
      this.inFlight.set(via, (this.inFlight.get(via) ?? 0) + 1);
      const p = this.write(rec).finally(() => {
        this.inFlight.set(via, this.inFlight.get(via)! - 1);
        this.pending.delete(p);
      });
      this.pending.add(p);
    }
  }

  private async write(rec: WriteRecord): Promise<void> {
    try {
      if (rec.kind === "submit") await this.submit(rec);
      else await this.assignAndUpload(rec);
    } catch (err) {
      rec.outcome = "failed";
      rec.error = describe(err);
    } finally {
      rec.end = performance.now();
    }
  }

  private async submit(rec: WriteRecord): Promise<void> {
    const form = new FormData();
    form.append("file", new Blob([rec.data]), `blob-${rec.seq}.bin`);
    const r = await this.timed(rec, "submit", this.cluster.url(rec.via, "/submit"), { method: "POST", body: form });
    if (r.status !== 201) return fail(rec, r);
    const j = r.json as { fid: string; fileUrl: string };
    rec.fid = j.fid;
    rec.volume = new URL(`http://${j.fileUrl}`).host;
    rec.assignedAt = performance.now();
    rec.outcome = "ack";
  }

  private async assignAndUpload(rec: WriteRecord): Promise<void> {
    const a = await this.timed(rec, "assign", this.cluster.url(rec.via, "/dir/assign"), { method: "GET" });
    if (a.status !== 200) return fail(rec, a);
    const j = a.json as { fid: string; url: string };
    rec.fid = j.fid;
    rec.volume = j.url;
    rec.assignedAt = performance.now();
    const u = await this.timed(rec, "upload", `http://${j.url}/${j.fid}`, { method: "PUT", body: rec.data });
    if (u.status !== 201) return fail(rec, u);
    rec.outcome = "ack";
  }

  private async timed(
    rec: WriteRecord,
    what: RequestTiming["what"],
    url: string,
    init: { method: "GET" | "PUT" | "POST"; body?: FormData | Buffer },
  ): Promise<{ status: number; json: unknown; text: string }> {
    const t: RequestTiming = { what, via: new URL(url).host, start: performance.now(), ms: NaN, status: undefined };
    rec.requests.push(t);
    try {
      const r = await request(url, {
        ...init,
        dispatcher: this.agent,
        headersTimeout: CLIENT_TIMEOUT_MS,
        bodyTimeout: CLIENT_TIMEOUT_MS,
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      const text = await r.body.text();
      t.status = r.statusCode;
      rec.status = r.statusCode;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: r.statusCode, json, text };
    } finally {
      t.ms = performance.now() - t.start;
    }
  }

  acks(t0 = -Infinity, t1 = Infinity): WriteRecord[] {
    return this.records.filter((r) => r.outcome === "ack" && r.start >= t0 && r.start <= t1);
  }

  /** Writes started in [t0, t1]. */
  started(t0: number, t1 = Infinity): WriteRecord[] {
    return this.records.filter((r) => r.start >= t0 && r.start <= t1);
  }
}

function fail(rec: WriteRecord, r: { status: number; text: string }): void {
  rec.outcome = "failed";
  rec.error = `${r.status} ${r.text.slice(0, 200)}`;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code;
  return `${err.name}${code === undefined ? "" : ` ${code}`}: ${err.message}`;
}

/** Fids acknowledged more than once (the same file key handed out twice), with how often. */
export function duplicateAcks(records: readonly WriteRecord[]): string[] {
  const count = new Map<string, number>();
  for (const r of records) if (r.outcome === "ack") count.set(r.fid!, (count.get(r.fid!) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([fid, n]) => `${fid} x${n}`);
}

/** Fids any answer handed out more than once, acknowledged or not (an assign whose upload failed too). */
export function duplicateAssigns(records: readonly WriteRecord[]): string[] {
  const count = new Map<string, number>();
  for (const r of records) if (r.fid !== undefined) count.set(r.fid, (count.get(r.fid) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([fid, n]) => `${fid} x${n}`);
}

/** Reads every acknowledged blob back from its volume server; returns what is missing or differs. */
export function readBack(records: readonly WriteRecord[]): Promise<string[]> {
  return readEach(records.filter((r) => r.outcome === "ack"));
}

/**
 * Writes that failed ("outcome unknown") after their fid was known, and whose bytes are stored all
 * the same: allowed, but worth counting (an upload that went on after its client was told it failed).
 */
export async function landedAfterFailure(records: readonly WriteRecord[]): Promise<{ known: number; landed: number }> {
  const known = records.filter((r) => r.outcome === "failed" && r.fid !== undefined && r.volume !== undefined);
  const problems = await readEach(known);
  return { known: known.length, landed: known.length - problems.length };
}

async function readEach(acks: readonly WriteRecord[], concurrency = 16): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const agent = new Agent({ keepAliveTimeout: 4_000 });
  const worker = async (): Promise<void> => {
    while (next < acks.length) {
      const r = acks[next++]!;
      try {
        const res = await request(`http://${r.volume}/${r.fid}`, {
          dispatcher: agent,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
          signal: AbortSignal.timeout(10_000),
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200) problems.push(`${r.fid} on ${r.volume}: ${res.statusCode}`);
        else if (!body.equals(r.data)) problems.push(`${r.fid} on ${r.volume}: ${body.length} bytes differ`);
      } catch (err) {
        problems.push(`${r.fid} on ${r.volume}: ${describe(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await agent.close();
  return problems;
}
