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
 * when it aborts first, and with check's error when it throws.
 */
export function waitUntil<T>(
  check: () => T | undefined,
  wakeups: Wakeups,
  signal: AbortSignal,
  recheckMs?: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      settled = true;
      clearInterval(timer);
      wakeups.delete(wake);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal.reason as Error);
    };
    // It may run from a timer or an event emitter: a throw must end the wait, not escape.
    function wake(): void {
      let found: T | undefined;
      try {
        found = check();
      } catch (err) {
        finish();
        reject(err as Error);
        return;
      }
      if (found === undefined) return;
      finish();
      resolve(found);
    }
    wake();
    if (settled) return;
    if (signal.aborted) return onAbort();
    wakeups.add(wake);
    signal.addEventListener("abort", onAbort, { once: true });
    if (recheckMs !== undefined) timer = setInterval(wake, recheckMs);
  });
}
