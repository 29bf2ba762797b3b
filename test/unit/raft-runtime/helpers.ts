// Shared helpers for the runtime's unit tests: entries, Readies; temp dirs and polling come from
// the integration harness (with a shorter poll: these nodes run in-process).
import type { Entry, HardState, Ready, Snapshot } from "../../../src/raft/types.js";
import { eventually as poll, removeDir, tempDir as harnessTempDir } from "../../integration/harness.js";

export { removeDir };

export function tempDir(prefix = "raft-rt-"): Promise<string> {
  return harnessTempDir(prefix);
}

export function normal(index: number, term: number, text = `cmd-${index}`): Entry {
  return { type: "normal", index, term, data: new TextEncoder().encode(text) };
}

export function range(first: number, last: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = first; i <= last; i++) out.push(normal(i, term));
  return out;
}

export function ready(parts: { entries?: Entry[]; hardState?: HardState | null; snapshot?: Snapshot | null }): Ready {
  const entries = parts.entries ?? [];
  const snapshot = parts.snapshot ?? null;
  return {
    softState: null,
    hardState: parts.hardState ?? null,
    entries,
    snapshot,
    messages: [],
    committedEntries: [],
    readStates: [],
    mustSync: entries.length > 0 || snapshot !== null || parts.hardState != null,
  };
}

/** Polls `check` until it returns a value, bounded by `timeoutMs`. */
export function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  return poll(what, check, timeoutMs, intervalMs);
}
