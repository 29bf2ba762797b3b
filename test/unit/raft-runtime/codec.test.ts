// The wire codec (core Message <-> raft_pb.Message <-> bytes) and the on-disk codec, on random
// values of every message and entry type (fast-check).
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageBatchSchema, MessageSchema, MessageType } from "../../../src/gen/raft_pb.js";
import { MessageCodecError, StorageCorruptError } from "../../../src/raft/runtime/errors.js";
import { decodeMessage, encodeBatch, encodeMessage } from "../../../src/raft/runtime/message-codec.js";
import {
  decodeAckWire,
  decodeBatchWire,
  encodeAckWire,
  encodeBatchWire,
} from "../../../src/raft/runtime/wire-codec.js";
import { AckSchema } from "../../../src/gen/raft_pb.js";
import {
  decodeEntry as decodeStoredEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry as encodeStoredEntry,
  encodeHardState,
  encodeSnapshot,
} from "../../../src/raft/runtime/storage-codec.js";
import type { Entry, Message, MessageType as CoreMessageType, Snapshot } from "../../../src/raft/types.js";

const u53 = fc.maxSafeNat();
const pos = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const nodeId = fc.oneof(
  fc.constantFrom("127.0.0.1:19333", "[::1]:7000", "n1", "ü-node"),
  fc.string({ minLength: 1, maxLength: 30 }),
);
const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b));
const context = fc.string({ maxLength: 20 });

const confChange = fc.record({
  type: fc.constantFrom("add-learner" as const, "promote" as const, "remove" as const),
  node: nodeId,
});

function entryAt(index: number): fc.Arbitrary<Entry> {
  return fc.oneof(
    fc.record({ type: fc.constant("normal" as const), index: fc.constant(index), term: pos, data: bytes }),
    fc.record({ type: fc.constant("conf-change" as const), index: fc.constant(index), term: pos, change: confChange }),
    fc.record({ type: fc.constant("noop" as const), index: fc.constant(index), term: pos }),
  );
}

const entry = pos.chain(entryAt);

const snapshot: fc.Arbitrary<Snapshot> = fc.record({
  meta: fc.record({
    index: pos,
    term: pos,
    membership: fc.record({
      voters: fc.uniqueArray(nodeId, { maxLength: 5 }),
      learners: fc.uniqueArray(nodeId, { maxLength: 3 }),
    }),
  }),
  data: bytes,
});

const base = { from: nodeId, to: nodeId, term: u53 };

const appendRequest = fc
  .record({ prevIndex: fc.integer({ min: 0, max: 2 ** 40 }), n: fc.integer({ min: 0, max: 5 }) })
  .chain(({ prevIndex, n }) =>
    fc.record({
      ...base,
      type: fc.constant("append" as const),
      prevIndex: fc.constant(prevIndex),
      prevTerm: u53,
      commit: u53,
      entries: n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => entryAt(prevIndex + 1 + i))),
    }),
  );

const messageByType: Record<CoreMessageType, fc.Arbitrary<Message>> = {
  "pre-vote": fc.record({
    ...base,
    type: fc.constant("pre-vote" as const),
    lastIndex: u53,
    lastTerm: u53,
    commit: u53,
    commitTerm: u53,
  }),
  "pre-vote-response": fc.record({
    ...base,
    type: fc.constant("pre-vote-response" as const),
    reject: fc.boolean(),
    commit: u53,
    commitTerm: u53,
  }),
  vote: fc.record({
    ...base,
    type: fc.constant("vote" as const),
    lastIndex: u53,
    lastTerm: u53,
    transfer: fc.boolean(),
    commit: u53,
    commitTerm: u53,
  }),
  "vote-response": fc.record({
    ...base,
    type: fc.constant("vote-response" as const),
    reject: fc.boolean(),
    commit: u53,
    commitTerm: u53,
  }),
  append: appendRequest,
  "append-response": fc.record({
    ...base,
    type: fc.constant("append-response" as const),
    reject: fc.boolean(),
    index: u53,
    hintIndex: u53,
    hintTerm: u53,
  }),
  heartbeat: fc.record({
    ...base,
    type: fc.constant("heartbeat" as const),
    commit: u53,
    context: fc.option(context, { nil: null }),
  }),
  "heartbeat-response": fc.record({
    ...base,
    type: fc.constant("heartbeat-response" as const),
    context: fc.option(context, { nil: null }),
  }),
  "install-snapshot": fc.record({ ...base, type: fc.constant("install-snapshot" as const), snapshot }),
  "timeout-now": fc.record({ ...base, type: fc.constant("timeout-now" as const) }),
  "read-index": fc.record({ ...base, type: fc.constant("read-index" as const), context }),
  "read-index-response": fc.record({ ...base, type: fc.constant("read-index-response" as const), context, index: u53 }),
};

const message = fc.oneof(...Object.values(messageByType));

/** Through the same path as the transport: encode, serialize, parse, decode. */
function viaWire(msgs: Message[]): Message[] {
  const wire = toBinary(MessageBatchSchema, encodeBatch(msgs));
  return fromBinary(MessageBatchSchema, wire).messages.map(decodeMessage);
}

describe("message codec", () => {
  for (const [type, arb] of Object.entries(messageByType)) {
    it(`round-trips ${type}`, () => {
      fc.assert(
        fc.property(arb, (m) => {
          expect(viaWire([m])).toEqual([m]);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("round-trips batches of mixed messages in order", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), (msgs) => {
        expect(viaWire(msgs)).toEqual(msgs);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps a null heartbeat context distinct from an empty one", () => {
    const hb = (context: string | null): Message => ({
      type: "heartbeat",
      from: "a",
      to: "b",
      term: 3,
      commit: 2,
      context,
    });
    expect(viaWire([hb(null), hb("")])).toEqual([hb(null), hb("")]);
  });

  it("rejects malformed messages with MessageCodecError", () => {
    const good = encodeMessage({ type: "read-index", from: "a", to: "b", term: 1, context: "x" });
    const cases = [
      create(MessageSchema, { ...good, type: MessageType.UNSPECIFIED }),
      create(MessageSchema, { ...good, context: undefined }),
      create(MessageSchema, { ...good, from: "" }),
      create(MessageSchema, { ...good, term: 2n ** 60n }),
      create(MessageSchema, { type: MessageType.INSTALL_SNAPSHOT, from: "a", to: "b", term: 1n }),
      create(MessageSchema, {
        type: MessageType.APPEND,
        from: "a",
        to: "b",
        term: 1n,
        prevIndex: 4n,
        entries: [{ index: 9n, term: 1n, type: 1 }],
      }),
    ];
    for (const c of cases) expect(() => decodeMessage(c)).toThrow(MessageCodecError);
  });
});

describe("fast wire codec (the transport's) against protobuf-es", () => {
  it("writes exactly the bytes protobuf-es writes, for every message type", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), (msgs) => {
        expect(Buffer.from(encodeBatchWire(msgs)).toString("hex")).toBe(
          Buffer.from(toBinary(MessageBatchSchema, encodeBatch(msgs))).toString("hex"),
        );
      }),
      { numRuns: 400 },
    );
  });

  it("reads what protobuf-es writes, and round-trips itself", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), (msgs) => {
        expect(decodeBatchWire(toBinary(MessageBatchSchema, encodeBatch(msgs)))).toEqual(msgs);
        expect(decodeBatchWire(encodeBatchWire(msgs))).toEqual(msgs);
      }),
      { numRuns: 400 },
    );
  });

  it("encodes the Ack like protobuf-es", () => {
    for (const node of ["127.0.0.1:1", "", "ü"]) {
      expect(Buffer.from(encodeAckWire(node))).toEqual(Buffer.from(toBinary(AckSchema, create(AckSchema, { node }))));
      expect(decodeAckWire(encodeAckWire(node))).toBe(node);
    }
  });

  it("skips unknown fields and rejects truncated or malformed input with MessageCodecError", () => {
    const good = encodeBatchWire([{ type: "heartbeat", from: "a", to: "b", term: 3, commit: 2, context: null }]);
    // Append an unknown varint field (number 99) inside the message: still decodes.
    const inner = good.subarray(2);
    const extended = Buffer.concat([Buffer.from([0x0a, inner.length + 3]), inner, Buffer.from([0x98, 0x06, 0x01])]);
    expect(decodeBatchWire(extended)).toEqual(decodeBatchWire(good));
    fc.assert(
      fc.property(fc.nat(), (cut) => {
        const n = 1 + (cut % (good.length - 1));
        expect(() => decodeBatchWire(good.subarray(0, n))).toThrow(MessageCodecError);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        try {
          decodeBatchWire(junk);
        } catch (err) {
          expect(err).toBeInstanceOf(MessageCodecError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("storage codec", () => {
  it("round-trips entries of every type", () => {
    fc.assert(
      fc.property(entry, (e) => {
        expect(decodeStoredEntry(e.index, encodeStoredEntry(e))).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips hard states and snapshots", () => {
    fc.assert(
      fc.property(u53, u53, fc.option(nodeId, { nil: null }), (term, commit, vote) => {
        expect(decodeHardState(encodeHardState({ term, commit, vote }))).toEqual({ term, commit, vote });
      }),
    );
    fc.assert(
      fc.property(snapshot, (s) => {
        expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
      }),
    );
  });

  it("detects any single flipped byte (CRC32-C)", () => {
    fc.assert(
      fc.property(entry, fc.nat(), fc.integer({ min: 1, max: 255 }), (e, at, flip) => {
        const v = new Uint8Array(encodeStoredEntry(e));
        const i = at % v.length;
        v[i] = (v[i] as number) ^ flip;
        expect(() => decodeStoredEntry(e.index, v)).toThrow(StorageCorruptError);
      }),
      { numRuns: 300 },
    );
  });
});
