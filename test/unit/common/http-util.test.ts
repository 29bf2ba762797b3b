// Edges of src/common/http-util.ts over real loopback HTTP, found by test/integration/fuzz.test.ts.
// readBody, the master's reader of urlencoded forms and of bodies it forwards: a body read whole,
// one over the bound refused with the rest left unread, and a client that goes away mid-body (the
// raw "aborted" stream error reached the master's handler, which logged it with its stack at error
// level as a server failure). closeAfterUpgradeRequest: an Upgrade request must not stall the next
// request on its connection.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import {
  closeAfterUpgradeRequest,
  discardUnreadBody,
  readBody,
  sendError,
  unreadBodyDrainMsMax,
} from "../../../src/common/http-util.js";

const LIMIT = 1024;

interface Outcome {
  body?: Buffer;
  error?: unknown;
  listenersLeft: number;
  paused: boolean;
}

let server: Server;
let port = 0;
let next: ((o: Outcome) => void) | undefined;

function listenersOf(req: IncomingMessage): number {
  return ["data", "end", "error", "close"].reduce((n, e) => n + req.listenerCount(e), 0);
}

function outcome(): Promise<Outcome> {
  return new Promise((resolve) => (next = resolve));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/destroyed") {
      // What undici does to a request it was streaming as a body and gave up (util.destroy).
      (req as unknown as { socket: null }).socket = null;
      req.destroy();
      discardUnreadBody(req, res);
      sendError(res, new WeedError(ErrorCode.UNAVAILABLE, "forwarding to the leader failed"));
      return;
    }
    if (req.url === "/upgrade") {
      closeAfterUpgradeRequest(req, res);
      res.end("ok");
      return;
    }
    readBody(req, LIMIT).then(
      (body) => {
        next?.({ body, listenersLeft: listenersOf(req), paused: req.isPaused() });
        res.end("ok");
      },
      (error: unknown) => {
        next?.({ error, listenersLeft: listenersOf(req), paused: req.isPaused() });
        res.destroy();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Writes `text` raw to the server; `end` half-closes after it. */
function send(text: string, end: boolean): void {
  const socket = connect(port, "127.0.0.1", () => {
    socket.write(text);
    if (end) socket.end();
  });
  socket.on("error", () => {});
  socket.on("data", () => {});
}

/** Sends `text` and collects everything until the server closes (or `waitMs` pass). */
function exchange(text: string, waitMs: number): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closed: false });
    }, waitMs);
    socket.on("data", (b: Buffer) => (answer += b.toString()));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    socket.on("error", () => {});
  });
}

const head = (extra: string): string => `POST /x HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

describe("readBody", () => {
  it("reads a body within the bound whole, leaving no listener behind", async () => {
    const got = outcome();
    send(head("Content-Length: 5\r\n") + "hello", false);
    const o = await got;
    expect(o.body?.toString()).toBe("hello");
    expect(o.listenersLeft).toBe(0);
  });

  it("refuses a chunked body past the bound with TOO_LARGE, the rest unread and the request paused", async () => {
    const got = outcome();
    const chunk = "a".repeat(600);
    send(head("Transfer-Encoding: chunked\r\n") + `258\r\n${chunk}\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n`, false);
    const o = await got;
    expect(o.error).toBeInstanceOf(WeedError);
    expect((o.error as WeedError).code).toBe(ErrorCode.TOO_LARGE);
    expect(o.listenersLeft).toBe(0);
    expect(o.paused).toBe(true);
  });

  it("a client gone mid-body is CLIENT_GONE, not a raw 'aborted' stream error (found by the fuzz test)", async () => {
    const got = outcome();
    send(head("Content-Length: 100\r\nContent-Type: application/x-www-form-urlencoded\r\n") + "count=1", true);
    const o = await got;
    expect(o.error).toBeInstanceOf(WeedError);
    expect((o.error as WeedError).code).toBe(ErrorCode.CLIENT_GONE);
    expect(o.listenersLeft).toBe(0);
  });
});

describe("closeAfterUpgradeRequest", () => {
  it("answers an upgrade request with Connection: close and closes, instead of stalling the next request", async () => {
    // Node's parser would not read the pipelined second request: it stays in upgrade mode.
    const upgrade = "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n";
    const next = "GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\n";
    const r = await exchange(upgrade + next, 2_000);
    expect(r.closed).toBe(true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.answer).toMatch(/\r\nConnection: close\r\n/i);
  });

  it("leaves an ordinary request's connection alive", async () => {
    const plain = "GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\n";
    const r = await exchange(plain + plain, 300);
    expect(r.answer.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(2);
    expect(r.closed).toBe(false);
  });
});

describe("discardUnreadBody", () => {
  it("answers a request undici destroyed (socket nulled) with Connection: close, and nothing fires later", async () => {
    // Found by the fuzz test: the drain timer called socket.destroy() on null 5 s after a follower's
    // failed forward, and the uncaught TypeError killed the master.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldAdvanceTime: true });
    try {
      const r = await exchange("POST /destroyed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 2_000);
      expect(r.answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(r.answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(r.closed).toBe(true);
      vi.advanceTimersByTime(unreadBodyDrainMsMax + 1);
    } finally {
      vi.useRealTimers();
    }
  });
});
