// Group commit: writers that want durability wait for the next fdatasync, and every writer that
// arrives while a sync is running shares the one after it. One sync in flight at a time; the next
// one covers everything written meanwhile. A failed sync rejects every waiter (the ones it covered
// and the ones queued behind it) and stays failed: after a failed fsync the page cache and the disk
// may disagree, so nothing written later can be promised either.
// The waiters are one shared promise per batch, so memory does not grow with their number; how
// many writers can wait at once is bounded upstream (the HTTP edge's concurrent upload limit).
import { ErrorCode, WeedError } from "../../common/errors.js";

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

export interface GroupCommitOptions {
  /** The sync itself (e.g. fdatasync of .dat and .idx). */
  sync: () => Promise<void>;
  /** Called once, on the first failure. */
  onFailure: (err: WeedError) => void;
  /** Names the files in error messages, e.g. "volume 3". */
  what: string;
}

export class GroupCommit {
  private readonly opts: GroupCommitOptions;
  private inFlight: Promise<void> | undefined;
  private queued: Waiters | undefined;
  private failure: WeedError | undefined;
  /** Syncs started so far: tests compare it with the number of writers. */
  syncCount = 0;

  constructor(opts: GroupCommitOptions) {
    this.opts = opts;
  }

  get failed(): WeedError | undefined {
    return this.failure;
  }

  /** Resolves once a sync that started after this call has finished: everything written before is durable. */
  sync(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.inFlight === undefined) return this.start();
    // The running sync may have started before the caller's write: wait for the next one.
    this.queued ??= waiters();
    return this.queued.promise;
  }

  /** Waits until no sync is running or queued (for close). Never rejects. */
  async drain(): Promise<void> {
    while (this.inFlight !== undefined) {
      await this.inFlight.catch(() => undefined);
    }
  }

  private start(): Promise<void> {
    this.syncCount++;
    const run = this.opts.sync().then(
      () => this.finish(),
      (err: unknown) => {
        this.failure = new WeedError(ErrorCode.IO, `fsync of ${this.opts.what} failed; it is read-only now`, {
          cause: err,
        });
        this.opts.onFailure(this.failure);
        this.finish();
        throw this.failure;
      },
    );
    this.inFlight = run;
    return run;
  }

  private finish(): void {
    this.inFlight = undefined;
    if (this.failure !== undefined) {
      const q = this.queued;
      this.queued = undefined;
      q?.reject(this.failure);
      return;
    }
    // Start the next sync one macrotask later: the writers this sync just woke append again in
    // their continuations (microtasks) and join one batch, instead of the first of them starting
    // a sync of its own and the rest waiting behind it. Until then `inFlight` stays set, so new
    // callers join `queued`, which the next sync covers (their appends happen before it starts).
    this.inFlight = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.startQueued());
  }

  private startQueued(): void {
    const q = this.queued;
    this.queued = undefined;
    this.inFlight = undefined;
    if (q !== undefined) this.start().then(q.resolve, q.reject);
  }
}
