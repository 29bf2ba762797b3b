// The bound on bytes in flight on its own: admission in order, a lone request over the limit,
// growth of a body without Content-Length, refusals (503, Retry-After, the flag named) on a wait
// that runs out or a full line, and a client that goes away while waiting.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { InflightLimit, type InflightTicket } from "../../../src/volume/inflight-limit.js";

function limit(limitBytes: number, waitersMax = 8): InflightLimit {
  return new InflightLimit({
    limitBytes,
    waitMs: 1_000,
    waitersMax,
    retryAfterSec: 2,
    what: "upload",
    flag: `-concurrentUploadLimitMB=${limitBytes}`,
    waitFlag: "-inflightUploadDataTimeout=1s",
  });
}

const never = new AbortController().signal;

/** Which of `pending` have settled, by index. */
async function settled(pending: Promise<unknown>[]): Promise<number[]> {
  const done: number[] = [];
  pending.forEach(
    (p, i) =>
      void p.then(
        () => done.push(i),
        () => done.push(i),
      ),
  );
  await vi.advanceTimersByTimeAsync(0);
  return done.sort();
}

describe("InflightLimit", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("admits while the bytes fit, then in arrival order as bytes come back", async () => {
    const l = limit(100);
    const a = l.tryAcquire(60)!;
    expect(a).toBeDefined();
    expect(l.tryAcquire(50)).toBeUndefined();
    const b = l.acquire(50, never);
    const c = l.acquire(10, never); // would fit, but waits behind b: first come, first served
    expect(l.tryAcquire(1)).toBeUndefined();
    expect(await settled([b, c])).toEqual([]);
    a.release();
    a.release(); // idempotent
    expect(await settled([b, c])).toEqual([0, 1]);
    expect(l.inflightBytes).toBe(60);
    expect(l.waiting).toBe(0);
  });

  it("lets one request larger than the limit through when nothing else is in flight", async () => {
    const l = limit(100);
    const big = l.tryAcquire(250)!;
    expect(big).toBeDefined();
    const next = l.acquire(1, never);
    expect(await settled([next])).toEqual([]);
    big.release();
    const t = await next;
    expect(t.bytes).toBe(1);
  });

  it("grows a ticket only within the limit, or while it is alone", () => {
    const l = limit(100);
    const chunked = l.tryAcquire(0)!;
    const other = l.tryAcquire(0)!;
    expect(chunked.grow(80)).toBe(true);
    expect(other.grow(30)).toBe(false); // 80 + 30 > 100, and not alone
    expect(other.grow(20)).toBe(true);
    expect(chunked.grow(1)).toBe(false);
    other.release();
    expect(chunked.grow(200)).toBe(true); // alone: may pass the limit
    expect(l.tryAcquire(0)).toBeUndefined(); // over the limit: even a download waits
    chunked.release();
    expect(l.inflightBytes).toBe(0);
    const another = l.tryAcquire(0)!;
    another.add(500); // a download's size, counted whether it fits or not
    expect(l.inflightBytes).toBe(500);
    another.release();
    expect(l.inflightBytes).toBe(0);
  });

  it("refuses a wait that runs out with 503, Retry-After and the flags named", async () => {
    const l = limit(100);
    const held = l.tryAcquire(90)!;
    const waiting = l.acquire(20, never).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    const err = (await waiting) as WeedError;
    expect(err).toBeInstanceOf(WeedError);
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.httpStatus).toBe(503);
    expect(err.retryAfterSec).toBe(2);
    expect(err.message).toContain("-concurrentUploadLimitMB=100");
    expect(err.message).toContain("-inflightUploadDataTimeout=1s");
    expect(err.message).toContain("90 bytes of uploads in flight + 20");
    expect(l.waiting).toBe(0);
    held.release();
    expect(l.inflightBytes).toBe(0);
  });

  it("refuses at once when the line is full", async () => {
    const l = limit(100, 2);
    l.tryAcquire(100);
    const w = [l.acquire(1, never), l.acquire(1, never)];
    const err = await l.acquire(1, never).catch((e: unknown) => e);
    expect((err as WeedError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((err as WeedError).message).toContain("2 requests already wait for room");
    expect(await settled(w)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.allSettled(w);
  });

  it("ends a wait when the client goes away, and lets those behind it in", async () => {
    const l = limit(100);
    const held = l.tryAcquire(60)!;
    const gone = new AbortController();
    const first = l.acquire(50, gone.signal).catch((e: unknown) => e);
    const second = l.acquire(30, never);
    gone.abort();
    expect(((await first) as WeedError).code).toBe(ErrorCode.CLIENT_GONE);
    const t: InflightTicket = await second; // 60 + 30 fits once the 50 ahead of it left
    expect(t.bytes).toBe(30);
    held.release();
    t.release();
  });

  it("with limit 0 admits everything at once", () => {
    const l = limit(0);
    expect(l.limited).toBe(false);
    expect(l.tryAcquire(1e12)).toBeDefined();
    expect(l.tryAcquire(1e12)).toBeDefined();
  });
});
