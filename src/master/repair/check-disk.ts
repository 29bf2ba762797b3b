// volume.check.disk for one volume: the replicas' needle sets are compared (both directions,
// deletes included) and made equal, as SeaweedFS's weed/shell/command_volume_check_disk.go does,
// with what its .idx copies cannot give it: each record's AppendAtNs, so a delete that reached one
// replica is told from a re-write that reached another (check-diff.ts). Used by the shell command
// and by the leader's automatic repair.
//
//   1. VolumeCheckState on every replica: the needs-check generation, read before anything is
//      listed, so a failure that happens during the check keeps its flag.
//   2. Pass: VolumeNeedleList of every replica (in parallel), diff, and with `apply` copy (the raw
//      record: ReadNeedleBlob on the newest holder, WriteNeedleBlob on the other, so bytes, ETag,
//      Last-Modified and AppendAtNs are identical) or delete (`DELETE ?type=replicate` on that
//      replica only). Passes repeat until one finds nothing (checkPassesMax).
//   3. Converged after an apply: VolumeCheckDone with the generation of step 1 on every replica.
//
// Writes and deletes in flight while a check runs are not harmed:
//   - A replicated write reached A, not yet B, when the lists were taken: the check copies A's
//     record to B, then the replicator's write reaches B too. Either order gives B the same
//     needle twice: the second append is a byte-identical write (skipped, or appended again: both
//     read the same), and the ETag is the same CRC. The replicator still gets its 201 from B.
//   - A replicated delete reached A (tombstone), not yet B: the check deletes on B (its tombstone
//     is newer than the copy it removes), then the replicator's delete finds nothing on B: 404,
//     which the replicator counts as done. In the other order the check's delete answers 404,
//     which counts as done here.
//   - The check read a live record on A just before a delete reached both A and B, and copies it
//     to B after the delete passed B: B holds a copy with the write's old AppendAtNs while A has a
//     newer tombstone. The next pass sees that and deletes it on B (the verification pass is why
//     a pass that changed something is always followed by another).
//   - Generally, a copy written after a newer write or delete of the same key reached the target
//     keeps its source's (older) AppendAtNs, so the next pass sees the newer record win and
//     repairs it; that is why an apply is always followed by another pass.
//   - A write that fails part way during the check marks the volume again with a newer
//     generation, so step 3 does not clear it; the next check looks again.
//   - Under a steady writer every listing catches some replicated writes half way. After the
//     first pass, a difference whose newest record is newer than anything the first listing saw,
//     on a key the check did not write itself, is such a write: left to its writer (above), not
//     chased until the passes run out (check-diff.ts splitInFlight).
// The replicas are never left worse than found: a copy only adds the newest record of a key, a
// delete only follows a newer tombstone.
import {
  countByReplica,
  diffNeedleSets,
  newestAppendAtNs,
  splitInFlight,
  type CheckAction,
  type NeedleSet,
} from "./check-diff.js";
import type { JwtSigning } from "../../common/security/config.js";
import { FidTokenKey } from "../../common/security/jwt.js";
import { ReplicaCalls, tooLargeToCopy, type ReplicaEndpoint } from "./check-calls.js";
import { checkActionLinesMax, checkActionsInParallel, checkPassesMax } from "./check-limits.js";

export type { ReplicaEndpoint } from "./check-calls.js";

export interface CheckDiskOptions {
  /** Copy and delete; without it only report (a dry run changes nothing). */
  apply: boolean;
  /** Propagate deletes (a newer tombstone on one replica deletes the live needle on the others). */
  syncDeletes: boolean;
  signal?: AbortSignal;
  /** One line of the report at a time (no newline). */
  say?: (line: string) => void;
  /** security.toml's [jwt.signing]: each local delete carries a write token for its fid, minted here. */
  jwtSigning?: JwtSigning | undefined;
}

export interface CheckDiskResult {
  volumeId: number;
  /** Actions the first pass found (a needle to copy to, or delete on, one replica). */
  differences: number;
  copied: number;
  deleted: number;
  /** The last pass found the replicas' needle sets equal, but for writes made during the check. */
  converged: boolean;
  /** Differences the last pass left to writes and deletes made during the check (check-diff.ts splitInFlight). */
  inFlight: number;
}

interface Check {
  volumeId: number;
  calls: ReplicaCalls[];
  o: CheckDiskOptions;
  say: (line: string) => void;
}

function fidOf(volumeId: number, key: bigint): string {
  return `${volumeId},${key.toString(16)}`;
}

function describeAction(c: Check, a: CheckAction): string {
  const url = (i: number): string => c.calls[i]!.endpoint.url;
  if (a.kind === "copy") return `copy ${fidOf(c.volumeId, a.key)} ${url(a.from)} => ${url(a.to)}`;
  return `delete ${fidOf(c.volumeId, a.key)} on ${url(a.at)} (deleted on ${url(a.tombstoneOn)})`;
}

/** What the first pass found, SeaweedFS-like: per replica, how many needles it misses and holds deleted elsewhere. */
function reportDifferences(c: Check, sets: readonly NeedleSet[], actions: readonly CheckAction[]): void {
  const v = c.volumeId;
  if (actions.length === 0) {
    c.say(`volume ${v}: ${sets.length} replicas agree on ${sets[0]!.size} entries`);
    return;
  }
  countByReplica(actions, sets.length).forEach((n, i) => {
    const url = c.calls[i]!.endpoint.url;
    c.say(`volume ${v} ${url} has ${sets[i]!.size} entries, missed ${n.copies} and partially deleted ${n.deletes}`);
  });
}

function printActions(c: Check, actions: readonly CheckAction[]): void {
  for (const a of actions.slice(0, checkActionLinesMax)) c.say(`  ${describeAction(c, a)}`);
  if (actions.length > checkActionLinesMax) c.say(`  ... and ${actions.length - checkActionLinesMax} more`);
}

/** The actions this check may run; says why the others are left. */
function runnable(c: Check, actions: readonly CheckAction[]): CheckAction[] {
  const out: CheckAction[] = [];
  let deletesLeft = 0;
  for (const a of actions) {
    if (a.kind === "delete" && !c.o.syncDeletes) deletesLeft++;
    else if (a.kind === "copy" && tooLargeToCopy(a.source)) {
      c.say(`  needle ${fidOf(c.volumeId, a.key)} of ${a.source.size} bytes is too large to copy over gRPC`);
    } else out.push(a);
  }
  if (deletesLeft > 0) c.say(`volume ${c.volumeId}: ${deletesLeft} deletes not synced (add -syncDeleted)`);
  return out;
}

async function runAction(c: Check, a: CheckAction): Promise<void> {
  if (a.kind === "copy") {
    const blob = await c.calls[a.from]!.readBlob(c.volumeId, a.source);
    await c.calls[a.to]!.writeBlob(c.volumeId, a.source, blob);
  } else {
    await c.calls[a.at]!.deleteLocal(c.volumeId, a.key, a.cookie);
  }
}

/** Runs the actions, checkActionsInParallel at a time; a failed one is reported and the rest go on. */
async function applyActions(c: Check, actions: readonly CheckAction[]): Promise<{ copied: number; deleted: number }> {
  const done = { copied: 0, deleted: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < actions.length) {
      c.o.signal?.throwIfAborted();
      const a = actions[next++]!;
      try {
        await runAction(c, a);
        if (a.kind === "copy") done.copied++;
        else done.deleted++;
      } catch (err) {
        c.o.signal?.throwIfAborted();
        c.say(`  failed to ${describeAction(c, a)}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(checkActionsInParallel, actions.length) }, worker));
  return done;
}

/** Clears every replica's flag with the generation read before the first pass. */
async function clearFlags(c: Check, generations: readonly bigint[]): Promise<void> {
  await Promise.all(
    c.calls.map(async (call, i) => {
      const { stillNeedsCheck } = await call.checkDone(c.volumeId, generations[i]!);
      if (stillNeedsCheck) {
        c.say(`volume ${c.volumeId} on ${call.endpoint.url}: a replicated write failed again during the check`);
      }
    }),
  );
}

async function runCheck(c: Check): Promise<CheckDiskResult> {
  const v = c.volumeId;
  const result: CheckDiskResult = { volumeId: v, differences: 0, copied: 0, deleted: 0, converged: false, inFlight: 0 };
  if (c.calls.length < 2) {
    c.say(`volume ${v}: ${c.calls.length} replica(s) to compare, nothing to check`);
    return result;
  }
  const generations = await Promise.all(c.calls.map(async (call) => (await call.checkState(v)).generation));
  let listedUpTo = 0n;
  const touched = new Set<bigint>();
  for (let pass = 1; pass <= checkPassesMax; pass++) {
    const sets = await Promise.all(c.calls.map((call) => call.needles(v)));
    const found = diffNeedleSets(sets);
    if (pass === 1) listedUpTo = newestAppendAtNs(sets);
    const { settle: actions, inFlight } = splitInFlight(found, sets, listedUpTo, touched);
    result.inFlight = inFlight.length;
    if (pass === 1) {
      result.differences = actions.length;
      reportDifferences(c, sets, actions);
    } else if (actions.length > 0) {
      c.say(`volume ${v}: pass ${pass} found ${actions.length} differences`);
    }
    if (actions.length === 0) {
      result.converged = true;
      break;
    }
    printActions(c, actions);
    const todo = c.o.apply && pass < checkPassesMax ? runnable(c, actions) : [];
    if (todo.length === 0) break;
    for (const a of todo) touched.add(a.key);
    const done = await applyActions(c, todo);
    result.copied += done.copied;
    result.deleted += done.deleted;
    c.say(`volume ${v}: copied ${done.copied} and deleted ${done.deleted} needles`);
  }
  if (result.inFlight > 0)
    c.say(`volume ${v}: ${result.inFlight} writes or deletes made during the check left to them`);
  if (c.o.apply && result.converged) await clearFlags(c, generations);
  if (!result.converged && c.o.apply) c.say(`volume ${v}: the replicas still differ`);
  return result;
}

/**
 * Compares the needle sets of `replicas` of volume `volumeId` and, with `apply`, makes them equal;
 * after an apply that converged, clears every replica's needs-check flag. Throws CheckCallError
 * when a replica cannot be read (state or listing); a copy or delete that fails is reported and
 * leaves `converged` false.
 */
export async function checkVolumeReplicas(
  volumeId: number,
  replicas: readonly ReplicaEndpoint[],
  o: CheckDiskOptions,
): Promise<CheckDiskResult> {
  const tokens = o.jwtSigning === undefined ? undefined : new FidTokenKey(o.jwtSigning);
  const calls = replicas.map((r) => new ReplicaCalls(r, o.signal, tokens));
  try {
    return await runCheck({ volumeId, calls, o, say: o.say ?? (() => undefined) });
  } finally {
    for (const call of calls) call.close();
  }
}
