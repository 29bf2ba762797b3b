// Group commit, shared by every volume of a store. Writers that want durability join the next sync
// round; one round fdatasyncs every volume whose writers are waiting (in parallel, on the thread
// pool), then releases its waiters, and the next round starts as soon as it ended if anyone is
// waiting. A writer that arrives while a round runs waits for the next one: the running round may
// have started before its write. One round in flight at a time per store.
//
// A GroupCommit is one volume's seat in the rounds. A failed sync fails that volume only: its
// waiters in that round and the ones queued behind it are rejected, and it stays failed (after a
// failed fsync the page cache and the disk may disagree, so nothing written later can be promised
// either); the other volumes of the round are released as usual.
//
// Bounds: a volume's waiters are one shared promise per round, so memory grows with the volumes of
// the store (maxVolumeCount), never with the writers; how many writers wait at once is bounded
// upstream (the HTTP edge's concurrent upload limit). A round syncs at most
// syncRoundVolumesParallelMax volumes at once and gives a volume syncRoundTimeoutMs.
import { ErrorCode, WeedError, assert } from "../../common/errors.js";
import { syncRoundTimeoutMs, syncRoundVolumesParallelMax } from "./limits.js";

interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface SyncRoundsOptions {
  /** A volume whose sync has not finished by then is failed. Default: limits.ts syncRoundTimeoutMs. */
  timeoutMs?: number;
  /** Volumes synced at once within a round. Default: limits.ts syncRoundVolumesParallelMax. */
  parallelMax?: number;
}

/** The sync rounds of one store (or of one volume used on its own). */
export class SyncRounds {
  private readonly timeoutMs: number;
  private readonly parallelMax: number;
  /** Set from a round's start until the next round may start. */
  private running: Promise<void> | undefined;
  /** Volumes waiting for the next round, with their writers. */
  private next = new Map<GroupCommit, Waiters>();
  /** Rounds started so far: tests compare it with the number of writers and volumes. */
  roundCount = 0;

  constructor(opts: SyncRoundsOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? syncRoundTimeoutMs;
    this.parallelMax = opts.parallelMax ?? syncRoundVolumesParallelMax;
    assert(this.timeoutMs > 0 && Number.isInteger(this.parallelMax) && this.parallelMax >= 1, "sync round limits");
  }

  /** Resolves once a round that started after this call has synced `member`. */
  join(member: GroupCommit): Promise<void> {
    if (this.running === undefined) {
      const w = waiters();
      this.start(new Map([[member, w]]));
      return w.promise;
    }
    let w = this.next.get(member);
    if (w === undefined) {
      w = waiters();
      this.next.set(member, w);
    }
    return w.promise;
  }

  private start(batch: Map<GroupCommit, Waiters>): void {
    this.roundCount++;
    this.running = this.run(batch).then(() => this.finish());
  }

  /** Syncs the batch's volumes, parallelMax at a time, each bounded by timeoutMs. Never rejects. */
  private async run(batch: Map<GroupCommit, Waiters>): Promise<void> {
    const entries = [...batch];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.timeoutMs);
    });
    let i = 0;
    const worker = async (): Promise<void> => {
      for (let e = entries[i++]; e !== undefined; e = entries[i++]) await this.syncOne(e[0], e[1], timedOut);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.parallelMax, entries.length) }, worker));
    } finally {
      clearTimeout(timer);
    }
  }

  private async syncOne(member: GroupCommit, w: Waiters, timedOut: Promise<"timeout">): Promise<void> {
    const failed = member.failed;
    if (failed !== undefined) {
      w.reject(failed); // queued before its volume's sync failed: never retried
      return;
    }
    member.syncCount++;
    try {
      const outcome = await Promise.race([member.syncFiles(), timedOut]);
      if (outcome === "timeout") {
        w.reject(member.fail(new Error(`fdatasync did not finish within ${this.timeoutMs} ms`)));
        return;
      }
    } catch (err) {
      w.reject(member.fail(err));
      return;
    }
    w.resolve();
  }

  private finish(): void {
    // Start the next round one macrotask later: the writers this round just woke append again in
    // their continuations (microtasks) and join one batch, instead of the first of them starting
    // a round of its own and the rest waiting behind it. Until then `running` stays set, so new
    // callers join `next`, which the next round covers (their appends happen before it starts).
    this.running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.startNext());
  }

  private startNext(): void {
    this.running = undefined;
    if (this.next.size === 0) return;
    const batch = this.next;
    this.next = new Map();
    this.start(batch);
  }
}

export interface GroupCommitOptions {
  /** The sync itself (e.g. fdatasync of .dat and .idx). */
  sync: () => Promise<void>;
  /** Called once, on the first failure. */
  onFailure: (err: WeedError) => void;
  /** Names the files in error messages, e.g. "volume 3". */
  what: string;
  /** The store's shared rounds. Default: rounds of this volume's own. */
  rounds?: SyncRounds;
}

/** One volume's seat in the sync rounds. */
export class GroupCommit {
  private readonly opts: GroupCommitOptions;
  private readonly rounds: SyncRounds;
  private failure: WeedError | undefined;
  /** The promise of the latest join that has not settled yet (for drain). */
  private pending: Promise<void> | undefined;
  /** Rounds that synced this volume so far: tests compare it with the number of writers. */
  syncCount = 0;

  constructor(opts: GroupCommitOptions) {
    this.opts = opts;
    this.rounds = opts.rounds ?? new SyncRounds();
  }

  get failed(): WeedError | undefined {
    return this.failure;
  }

  /** Resolves once a sync that started after this call has finished: everything written before is durable. */
  sync(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const p = this.rounds.join(this);
    if (p !== this.pending) {
      this.pending = p;
      const clear = (): void => {
        if (this.pending === p) this.pending = undefined;
      };
      p.then(clear, clear);
    }
    return p;
  }

  /** Waits until this volume has no sync running or queued (for close). Never rejects. */
  async drain(): Promise<void> {
    while (this.pending !== undefined) {
      await this.pending.catch(() => undefined);
    }
  }

  /** For SyncRounds: the sync itself. */
  syncFiles(): Promise<void> {
    return this.opts.sync();
  }

  /** For SyncRounds: the sync failed (or timed out); the volume stays failed. Returns the error to answer. */
  fail(cause: unknown): WeedError {
    if (this.failure === undefined) {
      this.failure = new WeedError(ErrorCode.IO, `fsync of ${this.opts.what} failed; it is read-only now`, { cause });
      this.opts.onFailure(this.failure);
    }
    return this.failure;
  }
}
