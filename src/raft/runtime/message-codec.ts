// The mapping between the core's Message union and raft_pb.Message (proto/raft.proto): every
// message type maps to raft_pb.Message with its type tag and only the fields that type uses.
//
// `fromWire` is the one place that checks a decoded message (tag, required fields, index runs of
// entries, snapshot) and throws MessageCodecError on anything malformed, so a peer's bug never
// reaches the core's assertions. Two decoders feed it: `decodeMessage` from protobuf-es objects
// (the reference path, used by tests and tools) and wire-codec.ts straight from bytes (the
// transport's fast path). `encodeMessage` is the protobuf-es encoder the fast one is tested against.
import { create } from "@bufbuild/protobuf";
import {
  ConfChangeType,
  EntrySchema,
  EntryType,
  MessageBatchSchema,
  MessageSchema,
  MessageType,
  SnapshotSchema,
  type Entry as PbEntry,
  type Message as PbMessage,
  type MessageBatch,
  type Snapshot as PbSnapshot,
} from "../../gen/raft_pb.js";
import { unreachable } from "../errors.js";
import type { ConfChange, Entry, Message, Snapshot } from "../types.js";
import { MessageCodecError } from "./errors.js";

const TYPE_TO_PB: Record<Message["type"], MessageType> = {
  "pre-vote": MessageType.PRE_VOTE,
  "pre-vote-response": MessageType.PRE_VOTE_RESPONSE,
  vote: MessageType.VOTE,
  "vote-response": MessageType.VOTE_RESPONSE,
  append: MessageType.APPEND,
  "append-response": MessageType.APPEND_RESPONSE,
  heartbeat: MessageType.HEARTBEAT,
  "heartbeat-response": MessageType.HEARTBEAT_RESPONSE,
  "install-snapshot": MessageType.INSTALL_SNAPSHOT,
  "timeout-now": MessageType.TIMEOUT_NOW,
  "read-index": MessageType.READ_INDEX,
  "read-index-response": MessageType.READ_INDEX_RESPONSE,
};

const CHANGE_TO_PB: Record<ConfChange["type"], ConfChangeType> = {
  "add-learner": ConfChangeType.ADD_LEARNER,
  promote: ConfChangeType.PROMOTE,
  remove: ConfChangeType.REMOVE,
};

const u64 = (n: number): bigint => BigInt(n);

function num(v: bigint, field: string): number {
  if (v > 9007199254740991n) throw new MessageCodecError(`${field}=${v} is beyond 2^53`);
  return Number(v);
}

export function encodeEntry(e: Entry): PbEntry {
  switch (e.type) {
    case "normal":
      return create(EntrySchema, { index: u64(e.index), term: u64(e.term), type: EntryType.NORMAL, data: e.data });
    case "conf-change":
      return create(EntrySchema, {
        index: u64(e.index),
        term: u64(e.term),
        type: EntryType.CONF_CHANGE,
        changeType: CHANGE_TO_PB[e.change.type],
        changeNode: e.change.node,
      });
    case "noop":
      return create(EntrySchema, { index: u64(e.index), term: u64(e.term), type: EntryType.NOOP });
    default:
      return unreachable(e);
  }
}

function changeFromPb(t: ConfChangeType): ConfChange["type"] {
  switch (t) {
    case ConfChangeType.ADD_LEARNER:
      return "add-learner";
    case ConfChangeType.PROMOTE:
      return "promote";
    case ConfChangeType.REMOVE:
      return "remove";
    default:
      throw new MessageCodecError(`unknown conf change type ${t}`);
  }
}

function encodeSnapshot(s: Snapshot): PbSnapshot {
  return create(SnapshotSchema, {
    index: u64(s.meta.index),
    term: u64(s.meta.term),
    membership: { voters: [...s.meta.membership.voters], learners: [...s.meta.membership.learners] },
    data: s.data,
  });
}

export function encodeMessage(m: Message): PbMessage {
  const out = create(MessageSchema, { type: TYPE_TO_PB[m.type], from: m.from, to: m.to, term: u64(m.term) });
  switch (m.type) {
    case "pre-vote":
      out.lastIndex = u64(m.lastIndex);
      out.lastTerm = u64(m.lastTerm);
      out.commit = u64(m.commit);
      out.hintTerm = u64(m.commitTerm);
      break;
    case "vote":
      out.lastIndex = u64(m.lastIndex);
      out.lastTerm = u64(m.lastTerm);
      out.transfer = m.transfer;
      out.commit = u64(m.commit);
      out.hintTerm = u64(m.commitTerm);
      break;
    case "pre-vote-response":
    case "vote-response":
      out.reject = m.reject;
      out.commit = u64(m.commit);
      out.hintTerm = u64(m.commitTerm); // proto/raft.proto: hint_term carries the commit's term here
      break;
    case "append":
      out.prevIndex = u64(m.prevIndex);
      out.prevTerm = u64(m.prevTerm);
      out.commit = u64(m.commit);
      out.entries = m.entries.map(encodeEntry);
      break;
    case "append-response":
      out.reject = m.reject;
      out.index = u64(m.index);
      out.hintIndex = u64(m.hintIndex);
      out.hintTerm = u64(m.hintTerm);
      break;
    case "heartbeat":
      out.commit = u64(m.commit);
      if (m.context !== null) out.context = m.context;
      break;
    case "heartbeat-response":
      if (m.context !== null) out.context = m.context;
      break;
    case "install-snapshot":
      out.snapshot = encodeSnapshot(m.snapshot);
      break;
    case "timeout-now":
      break;
    case "read-index":
      out.context = m.context;
      break;
    case "read-index-response":
      out.context = m.context;
      out.index = u64(m.index);
      break;
    default:
      return unreachable(m);
  }
  return out;
}

/** A decoded raft_pb.Message with JS numbers (64-bit fields already range-checked). */
export interface WireMessage {
  type: number;
  from: string;
  to: string;
  term: number;
  lastIndex: number;
  lastTerm: number;
  reject: boolean;
  transfer: boolean;
  prevIndex: number;
  prevTerm: number;
  entries: WireEntry[];
  commit: number;
  index: number;
  hintIndex: number;
  hintTerm: number;
  context: string | undefined;
  snapshot:
    | { index: number; term: number; membership: { voters: string[]; learners: string[] } | null; data: Uint8Array }
    | undefined;
}

export interface WireEntry {
  index: number;
  term: number;
  type: number;
  data: Uint8Array;
  changeType: number;
  changeNode: string;
}

export const WireMessageType = MessageType;

export function toWireType(t: Message["type"]): MessageType {
  return TYPE_TO_PB[t];
}

function entryFromWire(p: WireEntry): Entry {
  const { index, term } = p;
  if (index === 0 || term === 0) throw new MessageCodecError(`entry ${index}@${term}: index and term must be positive`);
  switch (p.type) {
    case EntryType.NORMAL:
      return { type: "normal", index, term, data: p.data };
    case EntryType.CONF_CHANGE: {
      const type = changeFromPb(p.changeType);
      if (p.changeNode === "") throw new MessageCodecError(`entry ${index}: conf change without a node`);
      return { type: "conf-change", index, term, change: { type, node: p.changeNode } };
    }
    case EntryType.NOOP:
      return { type: "noop", index, term };
    default:
      throw new MessageCodecError(`entry ${index}: unknown type ${p.type}`);
  }
}

function snapshotFromWire(p: WireMessage["snapshot"]): Snapshot {
  if (p === undefined) throw new MessageCodecError("install-snapshot without a snapshot");
  if (p.index === 0 || p.term === 0)
    throw new MessageCodecError(`snapshot ${p.index}@${p.term}: index and term must be positive`);
  const m = p.membership;
  return {
    meta: { index: p.index, term: p.term, membership: { voters: m?.voters ?? [], learners: m?.learners ?? [] } },
    data: p.data,
  };
}

function requiredContext(p: WireMessage): string {
  if (p.context === undefined) throw new MessageCodecError(`${MessageType[p.type]} without a context`);
  return p.context;
}

/** Check a decoded message and build the core's Message from it. */
export function fromWire(p: WireMessage): Message {
  if (p.from === "" || p.to === "") throw new MessageCodecError("message without from/to");
  const base = { from: p.from, to: p.to, term: p.term };
  switch (p.type) {
    case MessageType.PRE_VOTE:
      return {
        ...base,
        type: "pre-vote",
        lastIndex: p.lastIndex,
        lastTerm: p.lastTerm,
        commit: p.commit,
        commitTerm: p.hintTerm,
      };
    case MessageType.VOTE:
      return {
        ...base,
        type: "vote",
        lastIndex: p.lastIndex,
        lastTerm: p.lastTerm,
        transfer: p.transfer,
        commit: p.commit,
        commitTerm: p.hintTerm,
      };
    case MessageType.PRE_VOTE_RESPONSE:
      return { ...base, type: "pre-vote-response", reject: p.reject, commit: p.commit, commitTerm: p.hintTerm };
    case MessageType.VOTE_RESPONSE:
      return { ...base, type: "vote-response", reject: p.reject, commit: p.commit, commitTerm: p.hintTerm };
    case MessageType.APPEND: {
      const entries = p.entries.map(entryFromWire);
      for (let i = 0; i < entries.length; i++) {
        if ((entries[i] as Entry).index !== p.prevIndex + 1 + i)
          throw new MessageCodecError(`append: entry ${i} not at index ${p.prevIndex + 1 + i}`);
      }
      return { ...base, type: "append", prevIndex: p.prevIndex, prevTerm: p.prevTerm, commit: p.commit, entries };
    }
    case MessageType.APPEND_RESPONSE:
      return {
        ...base,
        type: "append-response",
        reject: p.reject,
        index: p.index,
        hintIndex: p.hintIndex,
        hintTerm: p.hintTerm,
      };
    case MessageType.HEARTBEAT:
      return { ...base, type: "heartbeat", commit: p.commit, context: p.context ?? null };
    case MessageType.HEARTBEAT_RESPONSE:
      return { ...base, type: "heartbeat-response", context: p.context ?? null };
    case MessageType.INSTALL_SNAPSHOT:
      return { ...base, type: "install-snapshot", snapshot: snapshotFromWire(p.snapshot) };
    case MessageType.TIMEOUT_NOW:
      return { ...base, type: "timeout-now" };
    case MessageType.READ_INDEX:
      return { ...base, type: "read-index", context: requiredContext(p) };
    case MessageType.READ_INDEX_RESPONSE:
      return { ...base, type: "read-index-response", context: requiredContext(p), index: p.index };
    default:
      throw new MessageCodecError(`unknown message type ${p.type}`);
  }
}

function entryToWire(p: PbEntry): WireEntry {
  return {
    index: num(p.index, "entry.index"),
    term: num(p.term, "entry.term"),
    type: p.type,
    data: p.data,
    changeType: p.changeType,
    changeNode: p.changeNode,
  };
}

/** The reference decoder: a protobuf-es message to a core Message. */
export function decodeMessage(p: PbMessage): Message {
  const s = p.snapshot;
  return fromWire({
    type: p.type,
    from: p.from,
    to: p.to,
    term: num(p.term, "term"),
    lastIndex: num(p.lastIndex, "lastIndex"),
    lastTerm: num(p.lastTerm, "lastTerm"),
    reject: p.reject,
    transfer: p.transfer,
    prevIndex: num(p.prevIndex, "prevIndex"),
    prevTerm: num(p.prevTerm, "prevTerm"),
    entries: p.entries.map(entryToWire),
    commit: num(p.commit, "commit"),
    index: num(p.index, "index"),
    hintIndex: num(p.hintIndex, "hintIndex"),
    hintTerm: num(p.hintTerm, "hintTerm"),
    context: p.context,
    snapshot:
      s === undefined
        ? undefined
        : {
            index: num(s.index, "snapshot.index"),
            term: num(s.term, "snapshot.term"),
            membership:
              s.membership === undefined ? null : { voters: s.membership.voters, learners: s.membership.learners },
            data: s.data,
          },
  });
}

export function encodeBatch(msgs: readonly Message[]): MessageBatch {
  return create(MessageBatchSchema, { messages: msgs.map(encodeMessage) });
}

/**
 * Bytes a message will take on the wire, roughly (payloads plus a fixed allowance per field);
 * used for the per-peer queue and batch byte limits, so it must never underestimate payloads.
 */
export function messageBytes(m: Message): number {
  switch (m.type) {
    case "append": {
      let n = 64;
      for (const e of m.entries)
        n += 32 + (e.type === "normal" ? e.data.byteLength : e.type === "conf-change" ? e.change.node.length : 0);
      return n;
    }
    case "install-snapshot":
      return (
        128 +
        m.snapshot.data.byteLength +
        64 * (m.snapshot.meta.membership.voters.length + m.snapshot.meta.membership.learners.length)
      );
    default:
      return 96;
  }
}
