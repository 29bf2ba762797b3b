// Shared helpers for the runtime's unit tests: entries and Readies.
import type { Entry, HardState, Ready, Snapshot } from "../../../src/raft/types.js";

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
