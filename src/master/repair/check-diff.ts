// The pure half of volume.check.disk: the needle sets of a volume's replicas in, the actions that
// make them equal out. No I/O, no clock: tested on its own (test/unit/master/check-disk-diff.test.ts).
//
// Per key, the newest record on any replica is the truth (AppendAtNs; records copied between
// replicas keep their source's, so a copy never looks newer than the write it copies):
//   - newest is a live needle: every replica where the key is absent, deleted, or live with other
//     bytes (Size or CRC differ) gets that record copied in, raw;
//   - newest is a tombstone: every replica where the key is live deletes it; absent is fine.
// So a write that reached one replica reaches the others, a delete that reached one reaches the
// others, and a delete followed by a re-write that reached only some replicas leaves the re-write.
// A tombstone and a live record with the same AppendAtNs (v2 volumes, which have none: 0) count
// the tombstone as newer, as SeaweedFS's check.disk with -syncDeleted does.
//
// SeaweedFS will not resurrect a needle absent on a replica, because a vacuum erases deleted
// needles with their index entries. Our volumes are never vacuumed (compaction revision stays 0),
// so every delete a replica processed still has its tombstone: absent means never written there.

/** One key of one replica, as VolumeNeedleList sends it. */
export interface NeedleMeta {
  key: bigint;
  cookie: number;
  /** Byte offset of the record in the replica's .dat (what ReadNeedleBlob takes). */
  offset: number;
  /** Record Size; 0 for a tombstone. */
  size: number;
  deleted: boolean;
  crc: number;
  appendAtNs: bigint;
}

export type NeedleSet = ReadonlyMap<bigint, NeedleMeta>;

export type CheckAction =
  /** Copy the record `source` (on replica `from`) to replica `to`. */
  | { kind: "copy"; key: bigint; from: number; to: number; source: NeedleMeta }
  /** Delete the live needle on replica `at` (with its cookie): replica `tombstoneOn` has a newer tombstone. */
  | { kind: "delete"; key: bigint; at: number; cookie: number; tombstoneOn: number };

/** True when `a` is the newer record (ties: a tombstone wins; then larger Size, CRC, lower replica). */
function newer(a: NeedleMeta, ai: number, b: NeedleMeta, bi: number): boolean {
  if (a.appendAtNs !== b.appendAtNs) return a.appendAtNs > b.appendAtNs;
  if (a.deleted !== b.deleted) return a.deleted;
  if (a.size !== b.size) return a.size > b.size;
  if (a.crc !== b.crc) return a.crc > b.crc;
  return ai < bi;
}

/** The same needle bytes as far as the set says (both live, same Size and CRC of the data). */
function sameLive(a: NeedleMeta | undefined, b: NeedleMeta): boolean {
  return a !== undefined && !a.deleted && a.size === b.size && a.crc === b.crc;
}

/** The actions for one key, given each replica's record of it (undefined: absent there). */
function actionsForKey(key: bigint, records: readonly (NeedleMeta | undefined)[]): CheckAction[] {
  let win = -1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r !== undefined && (win < 0 || newer(r, i, records[win]!, win))) win = i;
  }
  if (win < 0) return [];
  const truth = records[win]!;
  const out: CheckAction[] = [];
  for (let i = 0; i < records.length; i++) {
    if (i === win) continue;
    const r = records[i];
    if (truth.deleted) {
      if (r !== undefined && !r.deleted) out.push({ kind: "delete", key, at: i, cookie: r.cookie, tombstoneOn: win });
    } else if (!sameLive(r, truth)) {
      out.push({ kind: "copy", key, from: win, to: i, source: truth });
    }
  }
  return out;
}

/** Every action that makes the replicas' needle sets equal, by key (in the order keys are first seen). */
export function diffNeedleSets(sets: readonly NeedleSet[]): CheckAction[] {
  const seen = new Set<bigint>();
  const out: CheckAction[] = [];
  for (const set of sets) {
    for (const key of set.keys()) {
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(
        ...actionsForKey(
          key,
          sets.map((s) => s.get(key)),
        ),
      );
    }
  }
  return out;
}

/** Actions per replica, for the report: copies into it and deletes on it. */
export function countByReplica(
  actions: readonly CheckAction[],
  replicas: number,
): { copies: number; deletes: number }[] {
  const out = Array.from({ length: replicas }, () => ({ copies: 0, deletes: 0 }));
  for (const a of actions) {
    if (a.kind === "copy") out[a.to]!.copies++;
    else out[a.at]!.deletes++;
  }
  return out;
}

/** The newest AppendAtNs in any of the sets: what the replicas held when they were listed. */
export function newestAppendAtNs(sets: readonly NeedleSet[]): bigint {
  let newest = 0n;
  for (const set of sets) for (const n of set.values()) if (n.appendAtNs > newest) newest = n.appendAtNs;
  return newest;
}

/** The record an action makes every replica agree on. */
function truthOf(a: CheckAction, sets: readonly NeedleSet[]): NeedleMeta | undefined {
  return a.kind === "copy" ? a.source : sets[a.tombstoneOn]!.get(a.key);
}

/**
 * Splits a later pass's actions: `inFlight` are keys whose newest record was appended after the
 * first listing (newer than `listedUpTo`) and that this check has not written itself: writes and
 * deletes that began during the check, whose replication may still be on its way. Their writers
 * answer for them (a failure marks the volume again, with a newer generation), so the check leaves
 * them alone instead of chasing a moving target. A key the check copied or deleted is always
 * settled: its own copy may be the stale one.
 */
export function splitInFlight(
  actions: readonly CheckAction[],
  sets: readonly NeedleSet[],
  listedUpTo: bigint,
  touched: ReadonlySet<bigint>,
): { settle: CheckAction[]; inFlight: CheckAction[] } {
  const settle: CheckAction[] = [];
  const inFlight: CheckAction[] = [];
  for (const a of actions) {
    const truth = truthOf(a, sets);
    const fresh = truth !== undefined && truth.appendAtNs > listedUpTo && !touched.has(a.key);
    (fresh ? inFlight : settle).push(a);
  }
  return { settle, inFlight };
}
