// Answers of one event-loop turn, written together at its end (setImmediate: after every socket
// that was ready in this turn has been read), as the volume's append-batch.ts writes the turn's
// uploads. The hot read paths use it: the volume server's plain GET /<fid>, the master's
// /dir/lookup.
//
// Why: on loopback a response's write runs the receiver's side in the same syscall and wakes the
// client's thread, on a virtual machine with an interrupt that costs more than the rest of the
// write. Written one by one, between reads, each answer wakes a client that has gone back to
// sleep; written in a burst after the reads, the client is still busy with the first ones when
// the others arrive. bench:blob GET 1 KB, same run: +26% requests/s, CPU per request 34.6 -> 26.7
// us, of which waking the client 4.8 -> 1.1 us (perf); /dir/lookup under wrk -c64: +29% (median of 6)
// (README, Performance).
//
// What waits is only the writing: the answer was computed when the request was handled, so it
// says what the server held then, as it would have a few microseconds earlier.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Logger } from "./logger.js";
import { jsonHeaders, jsonText, sendError } from "./http-util.js";

export interface ResponseBatchLimits {
  /** Answers waiting at once; one more has the waiting ones written first. */
  readonly answersMax: number;
  /** Body bytes waiting at once; a body that would pass it has the waiting ones written first. */
  readonly bytesMax: number;
}

/**
 * The bounds both servers use. A turn of 128 answers at ~25 us each delays the first by ~3 ms at
 * worst; 2 MiB bounds the bodies held (the same bounds as a turn's appends, append-batch.ts).
 */
export const responseBatchLimits: ResponseBatchLimits = { answersMax: 128, bytesMax: 2 * 1024 * 1024 };

/** Headers as writeHead takes them: flat name/value pairs, or an object. */
type Headers = readonly string[] | OutgoingHttpHeaders;

interface Waiting {
  readonly res: ServerResponse;
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer | string;
}

export class ResponseBatch {
  readonly #limits: ResponseBatchLimits;
  readonly #log: Logger;
  #waiting: Waiting[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #flushSoon = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(limits: ResponseBatchLimits, log: Logger) {
    this.#limits = limits;
    this.#log = log;
  }

  /** Answers waiting now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Answers `res` with `status`, `headers` and `body` at the end of this turn. A body larger than
   * the bytes bound is written at once. (A string body is counted by its length in characters:
   * the bound is on memory held, not exact.)
   */
  send(res: ServerResponse, status: number, headers: Headers, body: Buffer | string): void {
    const w = { res, status, headers, body };
    if (body.length > this.#limits.bytesMax) {
      this.#write(w);
      return;
    }
    if (this.#waiting.length >= this.#limits.answersMax || this.#bytes + body.length > this.#limits.bytesMax) {
      this.flush();
    }
    this.#waiting.push(w);
    this.#bytes += body.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  /** sendJson's answer (http-util.ts), at the end of this turn. */
  sendJson(res: ServerResponse, status: number, body: unknown, pretty = false, authorization?: string): void {
    const text = jsonText(body, pretty);
    this.send(res, status, jsonHeaders(Buffer.byteLength(text), authorization), text);
  }

  /** Writes every waiting answer now, in the order they were sent. */
  flush(): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    this.#waiting = [];
    this.#bytes = 0;
    for (const w of waiting) this.#write(w);
  }

  /**
   * One answer. writeHead validates the headers and may throw (a stored MIME type it refuses):
   * that answer becomes the 500 it would have been at once, and the others still go.
   */
  #write(w: Waiting): void {
    try {
      w.res.writeHead(w.status, w.headers as OutgoingHttpHeaders);
      w.res.end(w.body);
    } catch (err) {
      this.#log.error({ err, method: w.res.req.method, url: w.res.req.url }, "request failed");
      if (w.res.headersSent) w.res.destroy();
      else sendError(w.res, err);
    }
  }
}
