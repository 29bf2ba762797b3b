// The shared test helpers (test/helpers.ts) keep their promises: a wait ends when the state is
// reached, gives up at its bound naming what it waited for, and a temp dir goes away when removed.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually, tempDir, waitFor, WaitTimeoutError } from "../helpers.js";

describe("eventually", () => {
  it("retries a throwing attempt and returns the value of the first that passes", async () => {
    let calls = 0;
    const v = await eventually(
      () => {
        calls++;
        if (calls < 3) throw new Error("not yet");
        return "ready";
      },
      { what: "the third call", intervalMs: 1 },
    );
    expect(v).toBe("ready");
    expect(calls).toBe(3);
  });

  it("times out naming what it waited for and the last failure", async () => {
    const err = await eventually(
      () => {
        throw new Error("still 2 of 3");
      },
      { what: "three replicas", timeoutMs: 50, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe("timed out after 50 ms waiting for three replicas: still 2 of 3");
  });

  it("abandons an attempt that is still running at the deadline", async () => {
    const started = performance.now();
    const never = new Promise<never>(() => {});
    await expect(eventually(() => never, { what: "a hung call", timeoutMs: 50 })).rejects.toThrow(/a hung call/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("stops with the signal's reason when it is aborted", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("the process exited")), 20);
    await expect(
      eventually(
        () => {
          throw new Error("no answer");
        },
        { what: "an answer", signal: ac.signal, intervalMs: 5 },
      ),
    ).rejects.toThrow("the process exited");
  });
});

describe("waitFor", () => {
  it("polls a condition, sync or async, until it holds", async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, { what: "three polls", intervalMs: 1 });
    expect(n).toBe(3);
    await waitFor(async () => ++n >= 5, { what: "two more", intervalMs: 1 });
    expect(n).toBe(5);
  });

  it("times out on a condition that stays false", async () => {
    await expect(waitFor(() => false, { what: "a leader", timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      "timed out after 30 ms waiting for a leader: the condition still does not hold",
    );
  });
});

describe("tempDir", () => {
  it("makes a fresh directory under the temp dir and removes it with its contents, twice safely", async () => {
    const t = await tempDir("weed-ts-helpers-");
    expect(t.dir.startsWith(join(tmpdir(), "weed-ts-helpers-"))).toBe(true);
    await writeFile(join(t.dir, "x"), "x");
    await t.remove();
    expect(existsSync(t.dir)).toBe(false);
    await t.remove();
  });
});
