// waitUntil: the one way the master waits for a state (a leader known, a volume reported) without
// polling; every path out of a wait leaves no waiter and no timer behind.
import { describe, expect, it } from "vitest";
import { waitUntil, wakeAll, type Wakeups } from "../../../src/common/wait-until.js";

describe("waitUntil", () => {
  it("answers at once when the condition already holds, registering nothing", async () => {
    const wakeups: Wakeups = new Set();
    await expect(waitUntil(() => 7, wakeups, new AbortController().signal)).resolves.toBe(7);
    expect(wakeups.size).toBe(0);
  });

  it("looks again on each wake-up and resolves with the first answer", async () => {
    const wakeups: Wakeups = new Set();
    let value: string | undefined;
    let checks = 0;
    const p = waitUntil(
      () => {
        checks++;
        return value;
      },
      wakeups,
      new AbortController().signal,
    );
    wakeAll(wakeups);
    expect(wakeups.size).toBe(1);
    value = "leader";
    wakeAll(wakeups);
    await expect(p).resolves.toBe("leader");
    expect(checks).toBe(3);
    expect(wakeups.size).toBe(0);
  });

  it("rejects with the signal's reason and forgets the waiter", async () => {
    const wakeups: Wakeups = new Set();
    const ac = new AbortController();
    const p = waitUntil(() => undefined, wakeups, ac.signal);
    ac.abort(new Error("client gone"));
    await expect(p).rejects.toThrow("client gone");
    expect(wakeups.size).toBe(0);
  });

  it("rejects at once on a signal that already aborted", async () => {
    const wakeups: Wakeups = new Set();
    await expect(waitUntil(() => undefined, wakeups, AbortSignal.abort(new Error("late")))).rejects.toThrow("late");
    expect(wakeups.size).toBe(0);
  });

  it("re-checks on its own every recheckMs, for a change that has no wake-up", async () => {
    const wakeups: Wakeups = new Set();
    const readyAt = performance.now() + 60;
    const r = await waitUntil(
      () => (performance.now() >= readyAt ? "late" : undefined),
      wakeups,
      AbortSignal.timeout(2_000),
      10,
    );
    expect(r).toBe("late");
  });

  it("ends the wait with the error of a check that throws from a wake-up, instead of letting it escape", async () => {
    const wakeups: Wakeups = new Set();
    let fail = false;
    const p = waitUntil(
      () => {
        if (fail) throw new Error("member removed");
        return undefined;
      },
      wakeups,
      new AbortController().signal,
      5,
    );
    fail = true;
    await expect(p).rejects.toThrow("member removed");
    expect(wakeups.size).toBe(0);
  });
});
