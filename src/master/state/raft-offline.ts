// Offline tools for a stopped master's Raft state in <mdir>/raft (`weed-ts master.raft`):
//
//   inspectRaftDir         what the log holds, and the master state it commits to.
//   rewriteRaftMembership  disaster recovery once a majority of masters is gone for good: this
//                          node's whole log (committed or not: it is the best record left) is
//                          folded into one snapshot whose membership is the given voters, so the
//                          survivor(s) can elect a leader again.
//
// Both refuse a directory a live process holds (<mdir>/master.lock names it; LevelDB's own lock
// on <mdir>/raft is the second guard) and never create a Raft store where there is none.
import { access } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { applyConfChange, isMember } from "../../raft/index.js";
import type { Entry, Membership, PersistedState, Snapshot } from "../../raft/index.js";
import { RaftStorage, StorageCorruptError } from "../../raft/runtime/index.js";
import { MasterStateMachine, type MasterStateSnapshot } from "./master-state-machine.js";
import { mdirInUseError, readMasterId, readMdirLockHolder } from "./mdir.js";

/** The Raft store's directory inside a master's mdir (master-server.ts puts it there). */
export function raftDirOf(mdir: string): string {
  return join(mdir, "raft");
}

export interface RaftDirSummary extends MasterStateSnapshot {
  /** From <mdir>/master.id; null when the master never recorded it. */
  id: string | null;
  term: number;
  vote: string | null;
  commit: number;
  firstIndex: number;
  lastIndex: number;
  lastTerm: number;
  snapshot: { index: number; term: number } | null;
  /** The snapshot's membership with every later conf-change entry in the log applied, in order. */
  membership: Membership;
  /** Entries stored after the snapshot. */
  entries: number;
}

export interface RaftRewrite {
  id: string | null;
  before: { membership: Membership; commit: number; lastIndex: number };
  after: { membership: Membership; snapshotIndex: number };
}

function sortedMembership(m: Membership): Membership {
  return { voters: [...m.voters].sort(), learners: [...m.learners].sort() };
}

function lastOf(state: PersistedState): { index: number; term: number } {
  const last = state.entries[state.entries.length - 1];
  if (last !== undefined) return { index: last.index, term: last.term };
  return { index: state.snapshot?.meta.index ?? 0, term: state.snapshot?.meta.term ?? 0 };
}

function membershipAfter(snapshot: Snapshot | null, entries: readonly Entry[]): Membership {
  let m: Membership = snapshot?.meta.membership ?? { voters: [], learners: [] };
  for (const e of entries) if (e.type === "conf-change") m = applyConfChange(m, e.change);
  return sortedMembership(m);
}

/** The master state after the snapshot and every normal entry up to `upTo`. */
function replay(state: PersistedState, upTo: number): MasterStateMachine {
  const sm = new MasterStateMachine();
  sm.restore(state.snapshot?.data ?? new Uint8Array(0));
  for (const e of state.entries) {
    if (e.index > upTo) break;
    // A command the state machine refuses is refused on every replica alike: skip it as they did.
    if (e.type === "normal") sm.apply(e.data);
  }
  return sm;
}

function summarize(id: string | null, state: PersistedState): RaftDirSummary {
  const snapIndex = state.snapshot?.meta.index ?? 0;
  const last = lastOf(state);
  const sm = replay(state, state.hardState.commit);
  return {
    id,
    term: state.hardState.term,
    vote: state.hardState.vote,
    commit: state.hardState.commit,
    firstIndex: snapIndex + 1,
    lastIndex: last.index,
    lastTerm: last.term,
    snapshot: state.snapshot === null ? null : { index: state.snapshot.meta.index, term: state.snapshot.meta.term },
    membership: membershipAfter(state.snapshot, state.entries),
    entries: state.entries.length,
    ...sm.state,
  };
}

function levelLocked(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    typeof e === "object" && e !== null && depth < 4;
    e = (e as Error).cause, depth++
  ) {
    if ((e as { code?: unknown }).code === "LEVEL_LOCKED") return true;
  }
  return false;
}

/**
 * Opens <mdir>/raft, loads it, runs `fn` and closes the store whatever happens. Refuses a
 * directory held by a live process and one without Raft state (opening would create a store).
 */
async function withRaftStorage<T>(
  mdir: string,
  fn: (storage: RaftStorage, state: PersistedState) => Promise<T>,
): Promise<T> {
  const dir = raftDirOf(mdir);
  try {
    // Every LevelDB has a CURRENT file: without it, open() would create a new, empty store.
    await access(join(dir, "CURRENT"));
  } catch {
    throw new WeedError(ErrorCode.NOT_FOUND, `${dir} holds no Raft state (is -mdir=${mdir} a master's directory?)`);
  }
  const holder = await readMdirLockHolder(mdir);
  if (holder !== null) throw mdirInUseError(mdir, holder.pid);
  const storage = new RaftStorage(dir);
  try {
    try {
      await storage.open();
    } catch (err) {
      if (levelLocked(err)) throw mdirInUseError(mdir, null, err);
      throw new WeedError(ErrorCode.IO, `opening ${dir}: ${(err as Error).message}`, { cause: err });
    }
    let state: PersistedState | null;
    try {
      state = await storage.load();
    } catch (err) {
      if (err instanceof StorageCorruptError)
        throw new WeedError(ErrorCode.CORRUPT, `${dir}: ${err.message}`, { cause: err });
      throw err;
    }
    if (state === null)
      throw new WeedError(ErrorCode.NOT_FOUND, `${dir} holds no Raft state (a LevelDB without the Raft format marker)`);
    return await fn(storage, state);
  } finally {
    await storage.close();
  }
}

/** What a stopped master's Raft directory holds. */
export async function inspectRaftDir(mdir: string): Promise<RaftDirSummary> {
  const id = await readMasterId(mdir);
  return withRaftStorage(mdir, async (_storage, state) => summarize(id, state));
}

function checkVoters(voters: readonly string[]): void {
  if (voters.length === 0) throw new WeedError(ErrorCode.BAD_PARAM, "the new membership needs at least one voter");
  const blank = voters.find((v) => v.trim() === "");
  if (blank !== undefined)
    throw new WeedError(ErrorCode.BAD_PARAM, `the new membership names an empty voter: ${JSON.stringify(voters)}`);
  const dup = voters.find((v, i) => voters.indexOf(v) !== i);
  if (dup !== undefined) throw new WeedError(ErrorCode.BAD_PARAM, `the new membership names ${dup} twice`);
}

/**
 * Disaster recovery: replaces the stored state with one snapshot at this node's last index whose
 * membership is `voters` (no learners). Unsafe unless every member left out is gone for good: see
 * `weed-ts master.raft -h`.
 */
export async function rewriteRaftMembership(mdir: string, voters: readonly string[]): Promise<RaftRewrite> {
  checkVoters(voters);
  const id = await readMasterId(mdir);
  if (id !== null && !voters.includes(id)) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `this master is ${id} (${join(mdir, "master.id")}) and must be one of the new voters ${voters.join(",")}`,
    );
  }
  return withRaftStorage(mdir, async (storage, state) => {
    const last = lastOf(state);
    if (last.index === 0)
      throw new WeedError(
        ErrorCode.NOT_FOUND,
        `${raftDirOf(mdir)} holds an empty log (a master that never joined a group): nothing to recover`,
      );
    const before = membershipAfter(state.snapshot, state.entries);
    // Without master.id, at least catch a list that names none of the old members: this node is
    // one of them, so such a list cannot include it (a typo, or the wrong -mdir).
    if (id === null && !voters.some((v) => isMember(before, v))) {
      throw new WeedError(
        ErrorCode.BAD_PARAM,
        `none of the new voters ${voters.join(",")} is a member of the old group ` +
          `(${[...before.voters, ...before.learners].join(",")}); this master must be one of them`,
      );
    }
    // Committed or not, this node's log is the best record left of what the old group decided:
    // keys and volume ids it reserved may have been handed out, so they must stay reserved.
    const sm = replay(state, last.index);
    const membership: Membership = { voters: [...voters].sort(), learners: [] };
    const snapshot: Snapshot = { meta: { index: last.index, term: last.term, membership }, data: sm.snapshot() };
    // Term and vote stay: clearing the vote could let this node vote twice in its current term.
    const hardState = { term: state.hardState.term, vote: state.hardState.vote, commit: last.index };
    await storage.replaceAll({ hardState, snapshot, entries: [] });
    const check = await storage.load();
    if (check === null || check.snapshot?.meta.index !== last.index || check.entries.length !== 0) {
      throw new WeedError(ErrorCode.IO, `${raftDirOf(mdir)}: the rewritten state did not read back as written`);
    }
    return {
      id,
      before: { membership: before, commit: state.hardState.commit, lastIndex: last.index },
      after: { membership, snapshotIndex: last.index },
    };
  });
}
