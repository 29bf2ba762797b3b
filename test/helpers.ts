// What every test file may need and no test should write again: a temporary directory that
// removes itself, and a bounded wait for a state to be reached (instead of sleeping and hoping).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface TempDir {
  /** Absolute path of the new, empty directory. */
  readonly dir: string;
  /** Removes the directory and everything in it; calling it again does nothing. */
  remove(): Promise<void>;
}

/** A fresh directory under os.tmpdir(); `prefix` names the test in `ls /tmp` when one is left behind. */
export async function tempDir(prefix = "weed-ts-test-"): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * In-process states (a heartbeat, an election with 10 ms ticks) are reached in milliseconds; the
 * bound is generous because two test files share two cores with other people's runs.
 */
const WAIT_TIMEOUT_MS = 10_000;
const WAIT_INTERVAL_MS = 20;

export interface WaitOptions {
  /** The awaited state in words, for the timeout error: "a leader", "the volume in a heartbeat". */
  what: string;
  timeoutMs?: number;
  /** Pause between attempts. */
  intervalMs?: number;
  /** Stops waiting at once with the signal's reason (a process the test waits on has exited). */
  signal?: AbortSignal;
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/**
 * Calls `attempt` until it returns without throwing, and returns what it returned: an attempt is
 * an assertion (`expect(...)`) or reads a value and throws while it is not there yet. Gives up
 * after `timeoutMs` (an attempt still running then is abandoned) with an error naming `what` and
 * the last attempt's failure.
 */
export async function eventually<T>(attempt: () => T | Promise<T>, options: WaitOptions): Promise<T> {
  const { what, timeoutMs = WAIT_TIMEOUT_MS, intervalMs = WAIT_INTERVAL_MS, signal } = options;
  const deadline = performance.now() + timeoutMs;
  let lastErr: unknown;
  const expired = (): WaitTimeoutError => {
    const last = lastErr === undefined ? "" : `: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`;
    return new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { cause: lastErr });
  };
  for (;;) {
    signal?.throwIfAborted();
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(expired()), Math.max(0, deadline - performance.now()));
    });
    try {
      return await Promise.race([attempt(), overdue]);
    } catch (err) {
      if (err instanceof WaitTimeoutError) throw err;
      lastErr = err;
    } finally {
      clearTimeout(timer);
    }
    if (performance.now() >= deadline) throw expired();
    await sleep(Math.min(intervalMs, deadline - performance.now()));
  }
}

/** What a false condition throws, so that the timeout error tells it from a condition that threw. */
const STILL_FALSE = new Error("the condition still does not hold");

/** Polls `condition` until it holds; a throw counts as "not yet" and is reported on timeout. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  await eventually(async () => {
    if (!(await condition())) throw STILL_FALSE;
  }, options);
}
