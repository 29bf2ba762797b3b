// The reused upload buffers: a large body gets memory an earlier upload gave back (its pages are
// mapped already), never memory it did not hand out, never one far larger than the body; the pool
// stays within its bytes, lets go when nothing fits, and empties when uploads stop.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UploadBuffers } from "../../../src/volume/upload-buffers.js";

const MiB = 1024 * 1024;

function pool(pooledBytesMax = 10 * MiB): UploadBuffers {
  return new UploadBuffers({ pooledBytesMax, pooledBytesMin: MiB, idleMs: 5_000 });
}

describe("UploadBuffers", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands the same memory to the next body that fits it, as a view of the body's length", () => {
    const p = pool();
    const a = p.take(3 * MiB);
    p.give(a);
    expect(p.pooledBytes).toBe(3 * MiB);
    const b = p.take(2 * MiB);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(2 * MiB);
    expect(p.pooledBytes).toBe(0);
    const c = p.take(2 * MiB); // a's memory is in use: a fresh one
    expect(c.buffer).not.toBe(a.buffer);
  });

  it("never pools small bodies or memory it did not allocate, and never twice", () => {
    const p = pool();
    const small = p.take(1000);
    p.give(small);
    p.give(Buffer.alloc(2 * MiB));
    expect(p.pooledBytes).toBe(0);
    const big = p.take(2 * MiB);
    p.give(big);
    p.give(big);
    expect(p.pooledBytes).toBe(2 * MiB);
  });

  it("does not serve a body from a buffer more than twice its size, and lets the idle ones go then", () => {
    const p = pool();
    const big = p.take(8 * MiB);
    p.give(big);
    const small = p.take(2 * MiB);
    expect(small.buffer).not.toBe(big.buffer);
    expect(p.pooledBytes).toBe(0);
  });

  it("keeps at most pooledBytesMax idle", () => {
    const p = pool(5 * MiB);
    const [a, b] = [p.take(3 * MiB), p.take(3 * MiB)];
    p.give(a);
    p.give(b);
    expect(p.pooledBytes).toBe(3 * MiB);
  });

  it("empties itself after idleMs without a take, and for good on close", async () => {
    const p = pool();
    p.give(p.take(2 * MiB));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(p.pooledBytes).toBe(2 * MiB);
    await vi.advanceTimersByTimeAsync(1);
    expect(p.pooledBytes).toBe(0);
    const c = p.take(2 * MiB);
    p.close();
    p.give(c);
    expect(p.pooledBytes).toBe(0);
  });
});
