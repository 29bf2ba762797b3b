// A raw HTTP/1.1 client for the fuzz test: it writes exactly the bytes it is given (malformed
// request lines, bad chunking, lying Content-Lengths, half-closed sockets), which undici refuses
// to send, and parses what comes back itself, so a server's answer is judged byte for byte.
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers keep every value. */
  headers: Map<string, string[]>;
  body: Buffer;
}

export type RawOutcome =
  /** An answer; `probe` is the answer to the keep-alive probe sent after it, when one was asked. */
  | { kind: "answered"; response: RawResponse; probe?: RawResponse | "closed"; ms: number }
  /** The server closed (or reset) the connection without a whole answer. */
  | { kind: "closed"; error: string | undefined; partial: string; ms: number }
  /** Nothing within the bound: the socket is destroyed by the client. */
  | { kind: "timeout"; partial: string; ms: number };

export interface RawSendOptions {
  /** Bytes of the request, in order (head, then the body as framed). */
  pieces: readonly Buffer[];
  /** HEAD: the answer has no body whatever its headers say. */
  head: boolean;
  /** Half-close the socket once written (a body cut short must end somehow). */
  halfClose: boolean;
  /** After the answer, send this request on the same connection and read its answer too. */
  probe: Buffer | undefined;
  /** Send the probe right behind the request (HTTP/1.1 pipelining), not once the answer is in. */
  pipelined: boolean;
  timeoutMs: number;
}

const CRLF2 = Buffer.from("\r\n\r\n");

function parseHead(text: string): { status: number; headers: Map<string, string[]> } {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "");
  if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify((lines[0] ?? "").slice(0, 120))}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad response header line ${JSON.stringify(line.slice(0, 120))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(m[1]), headers };
}

/** The body of a chunked answer starting at `at`, or undefined while incomplete. */
function dechunk(buf: Buffer, at: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let off = at;
  for (;;) {
    const eol = buf.indexOf("\r\n", off);
    if (eol < 0) return undefined;
    const size = Number.parseInt(buf.subarray(off, eol).toString("latin1").split(";")[0]!, 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size in the answer");
    if (size === 0) {
      const trailerEnd = buf.indexOf("\r\n", eol + 2);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), end: trailerEnd + 2 };
    }
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
}

/**
 * The first whole answer in `buf` (1xx interim answers skipped), with the bytes it used; undefined
 * while more is needed. `ended`: the server closed, so an answer framed by the close is whole.
 */
export function parseResponse(
  buf: Buffer,
  head: boolean,
  ended: boolean,
): { response: RawResponse; used: number } | undefined {
  let off = 0;
  for (;;) {
    const end = buf.indexOf(CRLF2, off);
    if (end < 0) return undefined;
    const { status, headers } = parseHead(buf.subarray(off, end).toString("latin1"));
    const bodyAt = end + 4;
    if (status >= 100 && status < 200) {
      off = bodyAt;
      continue;
    }
    const done = (body: Buffer, used: number): { response: RawResponse; used: number } => ({
      response: { status, headers, body },
      used,
    });
    if (head || status === 204 || status === 304) return done(Buffer.alloc(0), bodyAt);
    if ((headers.get("transfer-encoding") ?? []).some((v) => v.toLowerCase().includes("chunked"))) {
      const r = dechunk(buf, bodyAt);
      return r === undefined ? undefined : done(r.body, r.end);
    }
    const cl = headers.get("content-length");
    if (cl !== undefined) {
      const n = Number(cl[0]);
      if (buf.length - bodyAt < n) return undefined;
      return done(buf.subarray(bodyAt, bodyAt + n), bodyAt + n);
    }
    return ended ? done(buf.subarray(bodyAt), buf.length) : undefined;
  }
}

/**
 * The first write carries this much at once: the socket buffers on both ends take it whole, so a
 * server that answers early has it all before it closes. The rest goes in slices.
 */
export const firstWriteBytes = 256 * 1024;
/** Bytes written at once after the first write; between them the client looks for an early answer. */
const writeSliceBytes = 16 * 1024;

/** A final (not 1xx) answer has begun in `buf`. */
function answerBegun(buf: Buffer): boolean {
  return buf.length >= 10 && !/^HTTP\/1\.[01] 1/.test(buf.subarray(0, 10).toString("latin1"));
}

/** Resolves on the socket's drain, its close, or data arriving (an answer while the server reads no more). */
function writable(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const events = ["drain", "close", "data"] as const;
    const done = (): void => {
      for (const e of events) socket.off(e, done);
      resolve();
    };
    for (const e of events) socket.on(e, done);
  });
}

/**
 * Writes the request: the first firstWriteBytes at once, then slices, waiting for the socket to
 * drain between them, stopping as soon as an answer begins (a server refusing an upload answers
 * before reading it all; curl stops sending then too). True when everything was written.
 */
async function writeAll(socket: Socket, pieces: readonly Buffer[], received: () => Buffer): Promise<boolean> {
  const bytes = Buffer.concat(pieces);
  let at = Math.min(bytes.length, firstWriteBytes);
  if (!socket.write(bytes.subarray(0, at))) await writable(socket);
  while (at < bytes.length) {
    // A turn of the event loop first: an answer already in the kernel is read before the next
    // write, which would otherwise fail (EPIPE) and take the unread answer down with the socket.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!socket.writable || answerBegun(received())) return false;
    const slice = bytes.subarray(at, at + writeSliceBytes);
    at += slice.length;
    if (!socket.write(slice)) await writable(socket);
  }
  return socket.writable;
}

/**
 * Sends `opts.pieces` to 127.0.0.1:`port` on a new connection and reads the answer; then, when
 * asked and the whole request was sent, the probe's answer on the same connection.
 */
export function sendRaw(port: number, opts: RawSendOptions): Promise<RawOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    let first: RawResponse | undefined;
    let probing = false;
    /** The server closed its side (or the socket is gone): an answer framed by the close is whole. */
    let ended = false;
    let settled = false;
    let socketError: string | undefined;
    const ms = (): number => performance.now() - t0;
    const partial = (): string => buf.subarray(0, 300).toString("latin1");
    const finish = (outcome: RawOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: "timeout", partial: partial(), ms: ms() }), opts.timeoutMs);
    let written: Promise<boolean> = Promise.resolve(false);
    const pieces = opts.pipelined && opts.probe !== undefined ? [...opts.pieces, opts.probe] : opts.pieces;
    socket.once("connect", () => {
      written = writeAll(socket, pieces, () => buf).then((whole) => {
        if (opts.halfClose && whole && socket.writable) socket.end();
        return whole;
      });
    });
    const onFirst = (response: RawResponse): void => {
      first = response;
      if (opts.probe === undefined) return finish({ kind: "answered", response, ms: ms() });
      // The probe follows a request sent whole; one cut short by an early answer has no probe.
      void written.then((whole) => {
        if (!whole) return finish({ kind: "answered", response, ms: ms() });
        probing = true;
        if (!opts.pipelined && socket.writable) socket.write(opts.probe!);
        step();
      });
    };
    const step = (): void => {
      if (settled || (first !== undefined && !probing)) return;
      let parsed;
      try {
        parsed = parseResponse(buf, first === undefined && opts.head, ended);
      } catch (err) {
        return finish({ kind: "closed", error: (err as Error).message, partial: partial(), ms: ms() });
      }
      if (parsed !== undefined) {
        buf = buf.subarray(parsed.used);
        if (first === undefined) return onFirst(parsed.response);
        return finish({ kind: "answered", response: first, probe: parsed.response, ms: ms() });
      }
      if (!ended) return;
      if (first !== undefined) finish({ kind: "answered", response: first, probe: "closed", ms: ms() });
      else finish({ kind: "closed", error: socketError, partial: partial(), ms: ms() });
    };
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      step();
    });
    const onEnd = (): void => {
      ended = true;
      step();
    };
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
    });
  });
}
