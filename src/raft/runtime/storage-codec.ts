// The on-disk format of a node's Raft state: one LevelDB per node directory, binary keys and
// values, all integers big-endian. Every value starts with a CRC32-C of the rest of the value,
// checked on every read (LevelDB's own block checksums cover the files; ours covers our encoding).
//
//   key                          value
//   0x00 "format"                u32 FORMAT_VERSION
//   0x01                         hard state:  crc u32 | term u64 | commit u64 | vote (utf8, may be empty = null)
//   0x02                         snapshot:    crc u32 | index u64 | term u64 | membership | data (rest)
//   0x03 index u64               entry:       crc u32 | term u64 | type u8 | payload (rest)
//
//   membership = u16 voter count, then per voter u16 byte length + utf8; the same for learners.
//   entry type 1 normal:      payload = the command bytes
//   entry type 2 conf-change: payload = change type u8 (1 add-learner, 2 promote, 3 remove) | node utf8
//   entry type 3 noop:        payload empty
//
// Entry keys sort by index (big-endian), so a range scan from the snapshot index + 1 reads the log
// in order. u64 values are whole numbers below 2^53 (JS numbers); larger ones are rejected.
// Data crossing the disk boundary is checked twice: encode asserts valid values, decode verifies
// the CRC and the structure (and the loader verifies contiguity).
import { crc32c } from "@node-rs/crc32";
import { assert } from "../errors.js";
import type { ConfChange, Entry, HardState, Membership, NodeId, Snapshot, SnapshotMeta } from "../types.js";
import { StorageCorruptError } from "./errors.js";

export const FORMAT_VERSION = 1;

export const KEY_FORMAT = new Uint8Array([0x00, ...new TextEncoder().encode("format")]);
export const KEY_HARD_STATE = new Uint8Array([0x01]);
export const KEY_SNAPSHOT = new Uint8Array([0x02]);
const ENTRY_PREFIX = 0x03;
/** One past the last possible entry key: the upper bound of a scan of the whole log. */
export const KEY_ENTRY_END = new Uint8Array([ENTRY_PREFIX + 1]);

const U32 = 0x1_0000_0000;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function putU64(buf: Buffer, off: number, v: number): void {
  assert(Number.isSafeInteger(v) && v >= 0, `storage: u64 ${v} is not a safe non-negative integer`);
  buf.writeUInt32BE(Math.floor(v / U32), off);
  buf.writeUInt32BE(v % U32, off + 4);
}

function getU64(buf: Buffer, off: number, what: string): number {
  const v = buf.readUInt32BE(off) * U32 + buf.readUInt32BE(off + 4);
  if (!Number.isSafeInteger(v)) throw new StorageCorruptError(`${what}: u64 beyond 2^53`);
  return v;
}

function seal(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf.subarray(4)), 0);
  return buf;
}

function open(value: Uint8Array, minBytes: number, what: string): Buffer {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < minBytes) throw new StorageCorruptError(`${what}: ${buf.length} bytes, need at least ${minBytes}`);
  const want = buf.readUInt32BE(0);
  const got = crc32c(buf.subarray(4));
  if (want !== got) throw new StorageCorruptError(`${what}: CRC mismatch (stored ${want}, computed ${got})`);
  return buf;
}

export function entryKey(index: number): Uint8Array {
  const k = Buffer.allocUnsafe(9);
  k[0] = ENTRY_PREFIX;
  putU64(k, 1, index);
  return k;
}

export function entryKeyIndex(key: Uint8Array): number {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (buf.length !== 9 || buf[0] !== ENTRY_PREFIX)
    throw new StorageCorruptError(`bad entry key ${buf.toString("hex")}`);
  return getU64(buf, 1, "entry key");
}

// --- Format marker -------------------------------------------------------------------------------

export function encodeFormat(): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(FORMAT_VERSION, 4);
  return seal(b);
}

export function decodeFormat(value: Uint8Array): number {
  return open(value, 8, "format").readUInt32BE(4);
}

// --- Hard state ----------------------------------------------------------------------------------

export function encodeHardState(hs: HardState): Uint8Array {
  assert(hs.vote === null || hs.vote.length > 0, "storage: empty vote id");
  const vote = hs.vote === null ? Buffer.alloc(0) : Buffer.from(hs.vote, "utf8");
  const b = Buffer.allocUnsafe(20 + vote.length);
  putU64(b, 4, hs.term);
  putU64(b, 12, hs.commit);
  vote.copy(b, 20);
  return seal(b);
}

export function decodeHardState(value: Uint8Array): HardState {
  const b = open(value, 20, "hard state");
  const vote = b.length === 20 ? null : utf8(b.subarray(20), "hard state vote");
  return { term: getU64(b, 4, "hard state term"), commit: getU64(b, 12, "hard state commit"), vote };
}

// --- Snapshot ------------------------------------------------------------------------------------

function membershipBytes(m: Membership): number {
  let n = 4;
  for (const id of m.voters) n += 2 + Buffer.byteLength(id, "utf8");
  for (const id of m.learners) n += 2 + Buffer.byteLength(id, "utf8");
  return n;
}

function putIds(b: Buffer, off: number, ids: readonly NodeId[]): number {
  assert(ids.length <= 0xffff, "storage: too many members");
  b.writeUInt16BE(ids.length, off);
  off += 2;
  for (const id of ids) {
    const len = b.write(id, off + 2, "utf8");
    assert(len <= 0xffff && len > 0, `storage: bad member id ${JSON.stringify(id)}`);
    b.writeUInt16BE(len, off);
    off += 2 + len;
  }
  return off;
}

function getIds(b: Buffer, off: number, what: string): { ids: NodeId[]; off: number } {
  if (off + 2 > b.length) throw new StorageCorruptError(`${what}: truncated`);
  const n = b.readUInt16BE(off);
  off += 2;
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    if (off + 2 > b.length) throw new StorageCorruptError(`${what}: truncated`);
    const len = b.readUInt16BE(off);
    if (len === 0 || off + 2 + len > b.length) throw new StorageCorruptError(`${what}: bad id length ${len}`);
    ids.push(utf8(b.subarray(off + 2, off + 2 + len), what));
    off += 2 + len;
  }
  return { ids, off };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const mBytes = membershipBytes(s.meta.membership);
  const b = Buffer.allocUnsafe(20 + mBytes + s.data.byteLength);
  putU64(b, 4, s.meta.index);
  putU64(b, 12, s.meta.term);
  let off = putIds(b, 20, s.meta.membership.voters);
  off = putIds(b, off, s.meta.membership.learners);
  assert(off === 20 + mBytes, "storage: membership size mismatch");
  b.set(s.data, off);
  return seal(b);
}

export function decodeSnapshot(value: Uint8Array): Snapshot {
  const b = open(value, 24, "snapshot");
  const voters = getIds(b, 20, "snapshot voters");
  const learners = getIds(b, voters.off, "snapshot learners");
  const meta: SnapshotMeta = {
    index: getU64(b, 4, "snapshot index"),
    term: getU64(b, 12, "snapshot term"),
    membership: { voters: voters.ids, learners: learners.ids },
  };
  // Copy: the data outlives the read buffer and is handed to the state machine and the network.
  return { meta, data: new Uint8Array(b.subarray(learners.off)) };
}

// --- Entries -------------------------------------------------------------------------------------

const ENTRY_NORMAL = 1;
const ENTRY_CONF_CHANGE = 2;
const ENTRY_NOOP = 3;
const CHANGE_TYPES: readonly ConfChange["type"][] = ["add-learner", "promote", "remove"];

export function encodeEntry(e: Entry): Uint8Array {
  let b: Buffer;
  switch (e.type) {
    case "normal":
      b = Buffer.allocUnsafe(13 + e.data.byteLength);
      b[12] = ENTRY_NORMAL;
      b.set(e.data, 13);
      break;
    case "conf-change": {
      const node = encoder.encode(e.change.node);
      assert(node.length > 0, "storage: conf change without a node");
      b = Buffer.allocUnsafe(14 + node.length);
      const changeType = CHANGE_TYPES.indexOf(e.change.type) + 1;
      assert(changeType > 0, `storage: unknown conf change type ${e.change.type}`);
      b[12] = ENTRY_CONF_CHANGE;
      b[13] = changeType;
      b.set(node, 14);
      break;
    }
    case "noop":
      b = Buffer.allocUnsafe(13);
      b[12] = ENTRY_NOOP;
      break;
  }
  assert(e.term > 0, `storage: entry ${e.index} has term 0`);
  putU64(b, 4, e.term);
  return seal(b);
}

export function decodeEntry(index: number, value: Uint8Array): Entry {
  const what = `entry ${index}`;
  const b = open(value, 13, what);
  const term = getU64(b, 4, what);
  if (term === 0) throw new StorageCorruptError(`${what}: term 0`);
  switch (b[12]) {
    case ENTRY_NORMAL:
      // A view: LevelDB hands out a fresh buffer per value, so nothing else aliases it.
      return { type: "normal", index, term, data: new Uint8Array(b.buffer, b.byteOffset + 13, b.length - 13) };
    case ENTRY_CONF_CHANGE: {
      const type = CHANGE_TYPES[(b[13] ?? 0) - 1];
      if (type === undefined || b.length < 15) throw new StorageCorruptError(`${what}: bad conf change`);
      return { type: "conf-change", index, term, change: { type, node: utf8(b.subarray(14), what) } };
    }
    case ENTRY_NOOP:
      if (b.length !== 13) throw new StorageCorruptError(`${what}: noop with a payload`);
      return { type: "noop", index, term };
    default:
      throw new StorageCorruptError(`${what}: unknown type ${b[12]}`);
  }
}

function utf8(b: Uint8Array, what: string): string {
  try {
    return decoder.decode(b);
  } catch (err) {
    throw new StorageCorruptError(`${what}: invalid utf-8`, { cause: err });
  }
}
