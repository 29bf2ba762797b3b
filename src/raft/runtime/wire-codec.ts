// The transport's codec: core Messages straight to and from the protobuf wire format of
// raft_pb.MessageBatch (proto/raft.proto), without protobuf-es's reflection. Raft sends thousands
// of small messages a second and the generic path costs ~10 us per message each way; this one a
// few hundred ns. The bytes are exactly what protobuf-es produces for the same message (proto3:
// zero/false/empty fields omitted, `context` with explicit presence, fields in number order), and
// test/unit/raft-runtime/codec.test.ts checks both directions against protobuf-es on random
// messages of every type, so the .proto stays the contract.
import { MessageCodecError } from "./errors.js";
import { type WireEntry, type WireMessage, WireMessageType, fromWire, toWireType } from "./message-codec.js";
import type { ConfChange, Entry, Message } from "../types.js";

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

const CHANGE_TYPE: Record<ConfChange["type"], number> = { "add-learner": 1, promote: 2, remove: 3 };
const ENTRY_TYPE: Record<Entry["type"], number> = { normal: 1, "conf-change": 2, noop: 3 };

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  let v = Math.floor(n / 0x10000000);
  while (v > 0) {
    size++;
    v = Math.floor(v / 0x80);
  }
  return size;
}

/** Bytes of a uint64/enum field with a one-byte tag (0 when the value is the default 0). */
const numField = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n));
const lenField = (tagBytes: number, len: number): number => tagBytes + varintSize(len) + len;

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }
  /** A uint64/enum field with a one-byte tag, omitted when 0 (proto3). */
  num(tag: number, n: number): void {
    if (n === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(n);
  }
  bool(tag: number, b: boolean): void {
    if (!b) return;
    this.buf[this.pos++] = tag;
    this.buf[this.pos++] = 1;
  }
  bytes(b: Uint8Array): void {
    this.varint(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  str(s: string, len: number): void {
    this.varint(len);
    this.pos += this.buf.write(s, this.pos, len, "utf8");
  }
}

// --- Sizes ---------------------------------------------------------------------------------------

function entryBody(e: Entry): number {
  let n = numField(e.index) + numField(e.term) + numField(ENTRY_TYPE[e.type]);
  if (e.type === "normal") {
    if (e.data.byteLength > 0) n += lenField(1, e.data.byteLength);
  } else if (e.type === "conf-change") {
    n += numField(CHANGE_TYPE[e.change.type]);
    const len = Buffer.byteLength(e.change.node, "utf8");
    if (len > 0) n += lenField(1, len);
  }
  return n;
}

function idsBody(ids: readonly string[]): number {
  let n = 0;
  for (const id of ids) n += lenField(1, Buffer.byteLength(id, "utf8"));
  return n;
}

interface Sized {
  fromLen: number;
  toLen: number;
  contextLen: number;
  entryBodies: number[];
  membershipBody: number;
  snapshotBody: number;
  body: number;
}

function sizeOf(m: Message): Sized {
  const s: Sized = {
    fromLen: Buffer.byteLength(m.from, "utf8"),
    toLen: Buffer.byteLength(m.to, "utf8"),
    contextLen: -1,
    entryBodies: [],
    membershipBody: 0,
    snapshotBody: 0,
    body: 0,
  };
  let n = numField(toWireType(m.type));
  if (s.fromLen > 0) n += lenField(1, s.fromLen);
  if (s.toLen > 0) n += lenField(1, s.toLen);
  n += numField(m.term);
  switch (m.type) {
    // commit travels as commit, commitTerm as hint_term (proto/raft.proto).
    case "pre-vote":
      n += numField(m.lastIndex) + numField(m.lastTerm) + numField(m.commit) + numField(m.commitTerm);
      break;
    case "vote":
      n += numField(m.lastIndex) + numField(m.lastTerm) + (m.transfer ? 2 : 0);
      n += numField(m.commit) + numField(m.commitTerm);
      break;
    case "pre-vote-response":
    case "vote-response":
      n += (m.reject ? 2 : 0) + numField(m.commit) + numField(m.commitTerm);
      break;
    case "append":
      n += numField(m.prevIndex) + numField(m.prevTerm) + numField(m.commit);
      for (const e of m.entries) {
        const b = entryBody(e);
        s.entryBodies.push(b);
        n += lenField(1, b);
      }
      break;
    case "append-response":
      n += (m.reject ? 2 : 0) + numField(m.index) + numField(m.hintIndex) + numField(m.hintTerm);
      break;
    case "heartbeat":
      n += numField(m.commit);
      if (m.context !== null) s.contextLen = Buffer.byteLength(m.context, "utf8");
      break;
    case "heartbeat-response":
      if (m.context !== null) s.contextLen = Buffer.byteLength(m.context, "utf8");
      break;
    case "install-snapshot": {
      const meta = m.snapshot.meta;
      s.membershipBody = idsBody(meta.membership.voters) + idsBody(meta.membership.learners);
      s.snapshotBody =
        numField(meta.index) +
        numField(meta.term) +
        lenField(1, s.membershipBody) +
        (m.snapshot.data.byteLength > 0 ? lenField(1, m.snapshot.data.byteLength) : 0);
      n += lenField(2, s.snapshotBody);
      break;
    }
    case "timeout-now":
      break;
    case "read-index":
      s.contextLen = Buffer.byteLength(m.context, "utf8");
      break;
    case "read-index-response":
      n += numField(m.index);
      s.contextLen = Buffer.byteLength(m.context, "utf8");
      break;
  }
  if (s.contextLen >= 0) n += lenField(2, s.contextLen);
  s.body = n;
  return s;
}

// --- Encoding (fields in field-number order, as protobuf-es writes them) ------------------------

function writeEntry(w: Writer, e: Entry, body: number): void {
  w.byte(0x5a); // Message.entries = 11, LEN
  w.varint(body);
  w.num(0x08, e.index);
  w.num(0x10, e.term);
  w.num(0x18, ENTRY_TYPE[e.type]);
  if (e.type === "normal") {
    if (e.data.byteLength > 0) {
      w.byte(0x22);
      w.bytes(e.data);
    }
  } else if (e.type === "conf-change") {
    w.num(0x28, CHANGE_TYPE[e.change.type]);
    const len = Buffer.byteLength(e.change.node, "utf8");
    if (len > 0) {
      w.byte(0x32);
      w.str(e.change.node, len);
    }
  }
}

function writeIds(w: Writer, tag: number, ids: readonly string[]): void {
  for (const id of ids) {
    w.byte(tag);
    w.str(id, Buffer.byteLength(id, "utf8"));
  }
}

function writeMessage(w: Writer, m: Message, s: Sized): void {
  w.byte(0x0a); // MessageBatch.messages = 1, LEN
  w.varint(s.body);
  w.num(0x08, toWireType(m.type));
  if (s.fromLen > 0) {
    w.byte(0x12);
    w.str(m.from, s.fromLen);
  }
  if (s.toLen > 0) {
    w.byte(0x1a);
    w.str(m.to, s.toLen);
  }
  w.num(0x20, m.term);
  switch (m.type) {
    case "pre-vote":
      w.num(0x28, m.lastIndex);
      w.num(0x30, m.lastTerm);
      w.num(0x60, m.commit);
      w.num(0x78, m.commitTerm);
      break;
    case "vote":
      w.num(0x28, m.lastIndex);
      w.num(0x30, m.lastTerm);
      w.bool(0x40, m.transfer);
      w.num(0x60, m.commit);
      w.num(0x78, m.commitTerm);
      break;
    case "pre-vote-response":
    case "vote-response":
      w.bool(0x38, m.reject);
      w.num(0x60, m.commit);
      w.num(0x78, m.commitTerm);
      break;
    case "append":
      w.num(0x48, m.prevIndex);
      w.num(0x50, m.prevTerm);
      for (let i = 0; i < m.entries.length; i++) writeEntry(w, m.entries[i] as Entry, s.entryBodies[i] as number);
      w.num(0x60, m.commit);
      break;
    case "append-response":
      w.bool(0x38, m.reject);
      w.num(0x68, m.index);
      w.num(0x70, m.hintIndex);
      w.num(0x78, m.hintTerm);
      break;
    case "heartbeat":
      w.num(0x60, m.commit);
      break;
    case "read-index-response":
      w.num(0x68, m.index);
      break;
    default:
      break;
  }
  if (s.contextLen >= 0) {
    const ctx = (m as { context: string }).context;
    w.byte(0x82); // field 16, LEN: two-byte tag
    w.byte(0x01);
    w.str(ctx, s.contextLen);
  }
  if (m.type === "install-snapshot") {
    const snap = m.snapshot;
    w.byte(0x8a); // field 17, LEN
    w.byte(0x01);
    w.varint(s.snapshotBody);
    w.num(0x08, snap.meta.index);
    w.num(0x10, snap.meta.term);
    w.byte(0x1a);
    w.varint(s.membershipBody);
    writeIds(w, 0x0a, snap.meta.membership.voters);
    writeIds(w, 0x12, snap.meta.membership.learners);
    if (snap.data.byteLength > 0) {
      w.byte(0x22);
      w.bytes(snap.data);
    }
  }
}

/** raft_pb.MessageBatch bytes for `msgs`. */
export function encodeBatchWire(msgs: readonly Message[]): Buffer {
  const sized = msgs.map(sizeOf);
  let total = 0;
  for (const s of sized) total += lenField(1, s.body);
  const w = new Writer(total);
  for (let i = 0; i < msgs.length; i++) writeMessage(w, msgs[i] as Message, sized[i] as Sized);
  if (w.pos !== total) throw new MessageCodecError(`encoder size mismatch: wrote ${w.pos} of ${total}`);
  return w.buf;
}

/** raft_pb.Ack bytes. */
export function encodeAckWire(node: string): Buffer {
  const len = Buffer.byteLength(node, "utf8");
  const w = new Writer(len === 0 ? 0 : lenField(1, len));
  if (len > 0) {
    w.byte(0x0a);
    w.str(node, len);
  }
  return w.buf;
}

// --- Decoding ------------------------------------------------------------------------------------

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new MessageCodecError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new MessageCodecError(`varint ${result} is beyond 2^53`);
        return result;
      }
      mul *= 0x80;
    }
    throw new MessageCodecError("varint longer than 10 bytes");
  }
  len(): number {
    const n = this.varint();
    if (this.pos + n > this.end) throw new MessageCodecError(`field of ${n} bytes runs past its message`);
    return n;
  }
  bytes(): Uint8Array {
    const n = this.len();
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }
  str(): string {
    const n = this.len();
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  sub(): Reader {
    const n = this.len();
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  skip(wireType: number): void {
    switch (wireType) {
      case WT_VARINT:
        while (true) {
          if (this.pos >= this.end) throw new MessageCodecError("truncated varint");
          if ((this.buf[this.pos++] as number) < 0x80) return;
        }
      case WT_I64:
        this.pos += 8;
        break;
      case WT_LEN:
        this.pos += this.len();
        break;
      case WT_I32:
        this.pos += 4;
        break;
      default:
        throw new MessageCodecError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new MessageCodecError("truncated field");
  }
  tag(): { field: number; wt: number } {
    const t = this.varint();
    return { field: Math.floor(t / 8), wt: t % 8 };
  }
}

function expectWt(field: number, wt: number, want: number): void {
  if (wt !== want) throw new MessageCodecError(`field ${field}: wire type ${wt}, expected ${want}`);
}

function readEntry(r: Reader): WireEntry {
  const e: WireEntry = { index: 0, term: 0, type: 0, data: new Uint8Array(0), changeType: 0, changeNode: "" };
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    switch (field) {
      case 1:
        expectWt(field, wt, WT_VARINT);
        e.index = r.varint();
        break;
      case 2:
        expectWt(field, wt, WT_VARINT);
        e.term = r.varint();
        break;
      case 3:
        expectWt(field, wt, WT_VARINT);
        e.type = r.varint();
        break;
      case 4:
        expectWt(field, wt, WT_LEN);
        e.data = r.bytes();
        break;
      case 5:
        expectWt(field, wt, WT_VARINT);
        e.changeType = r.varint();
        break;
      case 6:
        expectWt(field, wt, WT_LEN);
        e.changeNode = r.str();
        break;
      default:
        r.skip(wt);
    }
  }
  return e;
}

function readMembership(r: Reader): { voters: string[]; learners: string[] } {
  const m = { voters: [] as string[], learners: [] as string[] };
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    if (field === 1 && wt === WT_LEN) m.voters.push(r.str());
    else if (field === 2 && wt === WT_LEN) m.learners.push(r.str());
    else r.skip(wt);
  }
  return m;
}

function readSnapshot(r: Reader): NonNullable<WireMessage["snapshot"]> {
  const s: NonNullable<WireMessage["snapshot"]> = { index: 0, term: 0, membership: null, data: new Uint8Array(0) };
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    switch (field) {
      case 1:
        expectWt(field, wt, WT_VARINT);
        s.index = r.varint();
        break;
      case 2:
        expectWt(field, wt, WT_VARINT);
        s.term = r.varint();
        break;
      case 3:
        expectWt(field, wt, WT_LEN);
        s.membership = readMembership(r.sub());
        break;
      case 4:
        expectWt(field, wt, WT_LEN);
        s.data = r.bytes();
        break;
      default:
        r.skip(wt);
    }
  }
  return s;
}

function emptyWireMessage(): WireMessage {
  return {
    type: WireMessageType.UNSPECIFIED,
    from: "",
    to: "",
    term: 0,
    lastIndex: 0,
    lastTerm: 0,
    reject: false,
    transfer: false,
    prevIndex: 0,
    prevTerm: 0,
    entries: [],
    commit: 0,
    index: 0,
    hintIndex: 0,
    hintTerm: 0,
    context: undefined,
    snapshot: undefined,
  };
}

function readMessage(r: Reader): WireMessage {
  const m = emptyWireMessage();
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    readMessageField(r, m, field, wt);
  }
  return m;
}

function readMessageField(r: Reader, m: WireMessage, field: number, wt: number): void {
  switch (field) {
    case 1:
      expectWt(field, wt, WT_VARINT);
      m.type = r.varint();
      break;
    case 2:
      expectWt(field, wt, WT_LEN);
      m.from = r.str();
      break;
    case 3:
      expectWt(field, wt, WT_LEN);
      m.to = r.str();
      break;
    case 4:
      expectWt(field, wt, WT_VARINT);
      m.term = r.varint();
      break;
    case 5:
      expectWt(field, wt, WT_VARINT);
      m.lastIndex = r.varint();
      break;
    case 6:
      expectWt(field, wt, WT_VARINT);
      m.lastTerm = r.varint();
      break;
    case 7:
      expectWt(field, wt, WT_VARINT);
      m.reject = r.varint() !== 0;
      break;
    case 8:
      expectWt(field, wt, WT_VARINT);
      m.transfer = r.varint() !== 0;
      break;
    case 9:
      expectWt(field, wt, WT_VARINT);
      m.prevIndex = r.varint();
      break;
    case 10:
      expectWt(field, wt, WT_VARINT);
      m.prevTerm = r.varint();
      break;
    case 11:
      expectWt(field, wt, WT_LEN);
      m.entries.push(readEntry(r.sub()));
      break;
    case 12:
      expectWt(field, wt, WT_VARINT);
      m.commit = r.varint();
      break;
    case 13:
      expectWt(field, wt, WT_VARINT);
      m.index = r.varint();
      break;
    case 14:
      expectWt(field, wt, WT_VARINT);
      m.hintIndex = r.varint();
      break;
    case 15:
      expectWt(field, wt, WT_VARINT);
      m.hintTerm = r.varint();
      break;
    case 16:
      expectWt(field, wt, WT_LEN);
      m.context = r.str();
      break;
    case 17:
      expectWt(field, wt, WT_LEN);
      m.snapshot = readSnapshot(r.sub());
      break;
    default:
      r.skip(wt);
  }
}

/** Decode raft_pb.MessageBatch bytes into core Messages; MessageCodecError on anything malformed. */
export function decodeBatchWire(bytes: Uint8Array): Message[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, 0, buf.length);
  const out: Message[] = [];
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    if (field === 1 && wt === WT_LEN) out.push(fromWire(readMessage(r.sub())));
    else r.skip(wt);
  }
  return out;
}

export function decodeAckWire(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, 0, buf.length);
  let node = "";
  while (r.pos < r.end) {
    const { field, wt } = r.tag();
    if (field === 1 && wt === WT_LEN) node = r.str();
    else r.skip(wt);
  }
  return node;
}
