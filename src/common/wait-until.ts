// Waiting for a condition without polling: the condition is looked at now and each time the
// thing it depends on announces a change (a Raft role event, a volume report), until it holds or
// the caller's signal (its deadline, its client going away) ends the wait.

/** Where a waiter registers to be woken; the owner calls every member after a change. */
export type Wakeups = Set<() => void>;

/** Calls each waiter once; a waiter may remove itself while this runs. */
export function wakeAll(wakeups: Wakeups): void {
  for (const wake of [...wakeups]) wake();
}

/**
 * Resolves with `check()`'s first answer other than undefined, asked now and on every wake-up
 * (and every `recheckMs`, for a change that has no wake-up); rejects with the signal's reason
 * when it aborts first.
 */
export function waitUntil<T>(
  check: () => T | undefined,
  wakeups: Wakeups,
  signal: AbortSignal,
  recheckMs?: number,
): Promise<T> {
  const now = check();
  if (now !== undefined) return Promise.resolve(now);
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const wake = (): void => {
      const found = check();
      if (found === undefined) return;
      done();
      resolve(found);
    };
    const onAbort = (): void => {
      done();
      reject(signal.reason as Error);
    };
    const timer = recheckMs === undefined ? undefined : setInterval(wake, recheckMs);
    function done(): void {
      clearInterval(timer);
      wakeups.delete(wake);
      signal.removeEventListener("abort", onAbort);
    }
    wakeups.add(wake);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
