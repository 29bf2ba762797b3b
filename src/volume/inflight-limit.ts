// A bound on the bytes of uploads (or downloads) in flight: -concurrentUploadLimitMB and
// -concurrentDownloadLimitMB. SeaweedFS: weed/server/volume_server_handlers.go (checkUploadLimit,
// checkDownloadLimit, waitFor*Slot), where a request waits on a condition variable while the bytes
// in flight are over the limit, up to -inflightUpload/DownloadDataTimeout, then gets 429.
//
// Here a request asks for its bytes (an upload's declared Content-Length; 0 for a download, whose
// size is added once read, as SeaweedFS does) and is admitted when they fit under the limit, or
// when nothing else is in flight (an upload larger than the limit, up to -fileSizeLimitMB, goes on
// its own). Otherwise it waits in line, first come first served, for a bounded time; the client
// going away ends its wait. Refusals are 503 with Retry-After and name the flag. SeaweedFS admits
// whenever the bytes in flight are at most the limit, so it passes the limit by one request; this
// bound holds except for that lone request.
import { ErrorCode, WeedError } from "../common/errors.js";

export interface InflightLimitOptions {
  /** Bytes in flight at most; 0 = no limit. */
  limitBytes: number;
  /** How long a request waits for room before it is refused. */
  waitMs: number;
  /** Requests waiting at once at most; more are refused at once. */
  waitersMax: number;
  /** Seconds sent in Retry-After with a refusal. */
  retryAfterSec: number;
  /** "upload" or "download": said in refusals. */
  what: string;
  /** The flag and its value, e.g. "-concurrentUploadLimitMB=256": named in refusals. */
  flag: string;
  /** The wait flag, e.g. "-inflightUploadDataTimeout=60s": named when a wait runs out. */
  waitFlag: string;
}

interface Waiter {
  bytes: number;
  admit: (ticket: InflightTicket) => void;
}

/** Bytes one request holds; release() gives them back (idempotent). */
export class InflightTicket {
  #limit: InflightLimit;
  #bytes: number;
  #released = false;

  constructor(limit: InflightLimit, bytes: number) {
    this.#limit = limit;
    this.#bytes = bytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Takes `bytes` more (a chunked body as it arrives) if they fit under the limit, or if this
   * request is alone in flight; false when they do not (the caller refuses the request).
   */
  grow(bytes: number): boolean {
    if (this.#released || !this.#limit.fitsMore(this.#bytes, bytes)) return false;
    this.#take(bytes);
    return true;
  }

  /** Takes `bytes` more whether they fit or not (a download's size, once read). */
  add(bytes: number): void {
    if (!this.#released) this.#take(bytes);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#limit.give(this.#bytes);
  }

  #take(bytes: number): void {
    this.#bytes += bytes;
    this.#limit.take(bytes);
  }
}

export class InflightLimit {
  readonly #o: InflightLimitOptions;
  #inflight = 0;
  readonly #waiters: Waiter[] = [];

  constructor(o: InflightLimitOptions) {
    this.#o = o;
  }

  get limited(): boolean {
    return this.#o.limitBytes > 0;
  }
  /** Bytes held by admitted requests. */
  get inflightBytes(): number {
    return this.#inflight;
  }
  get waiting(): number {
    return this.#waiters.length;
  }

  /** A ticket for `bytes` at once when they fit and nobody waits before, else undefined. */
  tryAcquire(bytes: number): InflightTicket | undefined {
    if (this.#waiters.length > 0 || !this.#fits(bytes)) return undefined;
    this.#inflight += bytes;
    return new InflightTicket(this, bytes);
  }

  /** A ticket for `bytes`, waiting in line for room; rejects UNAVAILABLE, or CLIENT_GONE when `signal` aborts. */
  acquire(bytes: number, signal: AbortSignal): Promise<InflightTicket> {
    const now = this.tryAcquire(bytes);
    if (now !== undefined) return Promise.resolve(now);
    if (this.#waiters.length >= this.#o.waitersMax) {
      return Promise.reject(this.refusal(bytes, `${this.#waiters.length} requests already wait for room`));
    }
    if (signal.aborted) return Promise.reject(this.#gone());
    return new Promise<InflightTicket>((resolve, reject) => {
      const leave = (err: WeedError): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        done();
        reject(err);
        this.#admitWaiters(); // the one leaving may have held up smaller ones behind it
      };
      const onAbort = (): void => leave(this.#gone());
      const timer = setTimeout(
        () => leave(this.refusal(bytes, `no room came within ${this.#o.waitMs} ms (${this.#o.waitFlag})`)),
        this.#o.waitMs,
      );
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        bytes,
        admit: (ticket) => {
          done();
          resolve(ticket);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Room for `more` bytes beside `held` of the asking request's own. */
  fitsMore(held: number, more: number): boolean {
    return this.#o.limitBytes === 0 || this.#inflight + more <= this.#o.limitBytes || this.#inflight === held;
  }

  take(bytes: number): void {
    this.#inflight += bytes;
  }

  give(bytes: number): void {
    this.#inflight -= bytes;
    this.#admitWaiters();
  }

  #fits(bytes: number): boolean {
    return this.fitsMore(0, bytes);
  }

  /** Admits waiters in order while the first one fits. */
  #admitWaiters(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const w = this.#waiters.shift()!;
      this.#inflight += w.bytes;
      w.admit(new InflightTicket(this, w.bytes));
    }
  }

  /** The refusal of `bytes` more, saying `why`: 503 with Retry-After, naming the flag. */
  refusal(bytes: number, why: string): WeedError {
    const o = this.#o;
    return new WeedError(
      ErrorCode.UNAVAILABLE,
      `${o.what} refused: ${this.#inflight} bytes of ${o.what}s in flight + ${bytes} would pass ` +
        `${o.flag} (${o.limitBytes} bytes), and ${why}; retry later`,
      { retryAfterSec: o.retryAfterSec },
    );
  }

  #gone(): WeedError {
    return new WeedError(ErrorCode.CLIENT_GONE, `the client went away while its ${this.#o.what} waited for room`);
  }
}
