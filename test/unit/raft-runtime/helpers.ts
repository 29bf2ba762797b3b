// Shared helpers for the runtime's unit tests: temp dirs, entries, Readies.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, HardState, Ready, Snapshot } from "../../../src/raft/types.js";

export async function tempDir(prefix = "raft-rt-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
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
export async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr instanceof Error ? `: ${lastErr.message}` : ""}`);
}
