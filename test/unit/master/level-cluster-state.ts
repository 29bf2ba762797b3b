// A ClusterState in one local LevelDB record written with sync: a test double for the parts
// built on ClusterState (sequencer, assigner, growth) that keeps the durability contract across
// a close and reopen without running Raft.
import { mkdir } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { Level } from "level";
import { ErrorCode, WeedError, assert } from "../../../src/common/errors.js";
import { fileKeyMax, volumeIdMax } from "../../../src/master/limits.js";
import type { ClusterState, KeyBlock } from "../../../src/master/state/cluster-state.js";

/** What is stored: one JSON record under one key, rewritten whole (it is three numbers). */
interface StateRecord {
  topologyId: string;
  maxVolumeId: number;
  fileKeyCeiling: number;
}

const RECORD_KEY = "cluster-state";

function parseRecord(text: string, dir: string): StateRecord {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (err) {
    throw new WeedError(ErrorCode.CORRUPT, `cluster state in ${dir} is not JSON`, { cause: err });
  }
  const rec = r as Partial<StateRecord>;
  const ok =
    typeof rec.topologyId === "string" &&
    Number.isSafeInteger(rec.maxVolumeId) &&
    Number.isSafeInteger(rec.fileKeyCeiling) &&
    (rec.maxVolumeId ?? -1) >= 0 &&
    (rec.fileKeyCeiling ?? -1) >= 0;
  if (!ok) throw new WeedError(ErrorCode.CORRUPT, `cluster state in ${dir} is malformed: ${text.slice(0, 200)}`);
  return rec as StateRecord;
}

export class LevelClusterState implements ClusterState {
  private readonly dir: string;
  private db: Level<string, string> | undefined;
  private record: StateRecord = { topologyId: "", maxVolumeId: 0, fileKeyCeiling: 0 };
  /** Writes run one after another so the stored values only ever grow. */
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  /** `dir` is the LevelDB directory (created on open). */
  constructor(dir: string) {
    this.dir = dir;
  }

  get topologyId(): string {
    return this.record.topologyId;
  }
  get maxVolumeId(): number {
    return this.record.maxVolumeId;
  }
  get fileKeyCeiling(): number {
    return this.record.fileKeyCeiling;
  }

  async open(): Promise<void> {
    assert(this.db === undefined && !this.closed, "LevelClusterState opened twice");
    await mkdir(this.dir, { recursive: true });
    const db = new Level<string, string>(this.dir, { valueEncoding: "utf8" });
    await db.open();
    this.db = db;
    const text = await db.get(RECORD_KEY);
    if (text === undefined) {
      this.record = { topologyId: randomUUID(), maxVolumeId: 0, fileKeyCeiling: 0 };
      await this.persist();
    } else {
      this.record = parseRecord(text, this.dir);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.catch(() => undefined);
    await this.db?.close();
  }

  async nextVolumeId(): Promise<number> {
    this.checkOpen();
    const id = this.record.maxVolumeId + 1;
    if (id > volumeIdMax)
      throw new WeedError(ErrorCode.NO_FREE_SLOT, `volume ids exhausted: max volume id is ${this.record.maxVolumeId}`);
    // Raised in memory first so concurrent callers get distinct ids; handed out only once durable.
    this.record.maxVolumeId = id;
    await this.persist();
    return id;
  }

  async raiseMaxVolumeId(id: number): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(id) || id <= this.record.maxVolumeId || id > volumeIdMax) return;
    this.record.maxVolumeId = id;
    await this.persist();
  }

  async reserveFileKeys(count: number, floor: number): Promise<KeyBlock> {
    this.checkOpen();
    assert(Number.isSafeInteger(count) && count > 0, `key block count ${count}`);
    const first = Math.max(this.record.fileKeyCeiling, floor) + 1;
    const last = first + count - 1;
    if (last > fileKeyMax)
      throw new WeedError(ErrorCode.UNAVAILABLE, `file keys exhausted: ceiling ${this.record.fileKeyCeiling}`);
    this.record.fileKeyCeiling = last;
    await this.persist();
    return { first, end: last + 1 };
  }

  private checkOpen(): void {
    if (this.closed) throw new WeedError(ErrorCode.CLOSED, "cluster state is closed");
    assert(this.db !== undefined, "cluster state used before open()");
  }

  /** Appends one sync write of the whole record as it is when the write runs (never older). */
  private persist(): Promise<void> {
    const db = this.db;
    assert(db !== undefined, "persist before open");
    const run = this.writes.then(async () => {
      try {
        await db.put(RECORD_KEY, JSON.stringify(this.record), { sync: true });
      } catch (err) {
        throw new WeedError(ErrorCode.IO, `writing cluster state to ${this.dir} failed`, { cause: err });
      }
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}
