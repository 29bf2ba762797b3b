// The simulator's state machine: a counter of client requests with de-duplication by request id
// (a client retries with the same id after an unknown outcome, so a request may be in the log
// more than once but must take effect exactly once). `chain` is a running hash over every entry
// applied, so two nodes that applied the same prefix have the same chain at every index.
import { assert } from "../errors.js";
import type { Entry } from "../types.js";

export interface Command {
  readonly client: number;
  readonly seq: number;
}

export function requestId(c: Command): string {
  return `c${c.client}.${c.seq}`;
}

export function encodeCommand(c: Command): Uint8Array {
  return new TextEncoder().encode(`${c.client}.${c.seq}`);
}

export function decodeCommand(data: Uint8Array): Command {
  const [client, seq] = new TextDecoder().decode(data).split(".").map(Number);
  assert(Number.isSafeInteger(client) && Number.isSafeInteger(seq), "sim: bad command bytes");
  return { client: client as number, seq: seq as number };
}

/** A short stable digest of an entry's content (not its position). */
export function entryDigest(e: Entry): string {
  switch (e.type) {
    case "normal":
      return `n:${new TextDecoder().decode(e.data)}`;
    case "noop":
      return "noop";
    case "conf-change":
      return `cc:${e.change.type}:${e.change.node}`;
  }
}

function fnv1a(h: number, s: string): number {
  let x = h >>> 0;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

export const CHAIN_SEED = 0x811c9dc5;

export class SimStateMachine {
  appliedIndex: number;
  chain: number;
  /** Request id -> number of times it took effect (must never exceed 1). */
  readonly effects = new Map<string, number>();

  constructor(appliedIndex = 0, chain = CHAIN_SEED) {
    this.appliedIndex = appliedIndex;
    this.chain = chain;
  }

  /** Apply one committed entry; returns the request id it carried, if any. */
  apply(e: Entry): string | null {
    assert(e.index === this.appliedIndex + 1, `state machine: applying ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    this.chain = fnv1a(this.chain, `${e.index}|${e.term}|${entryDigest(e)}`);
    if (e.type !== "normal") return null;
    const id = requestId(decodeCommand(e.data));
    if (!this.effects.has(id)) this.effects.set(id, 1);
    return id;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(
      JSON.stringify({ i: this.appliedIndex, c: this.chain, e: [...this.effects.keys()] }),
    );
  }

  static restore(data: Uint8Array, index: number): SimStateMachine {
    if (data.byteLength === 0) return new SimStateMachine(index, CHAIN_SEED); // a bootstrap snapshot
    const parsed = JSON.parse(new TextDecoder().decode(data)) as { i: number; c: number; e: string[] };
    assert(parsed.i === index, `state machine: snapshot data at ${parsed.i} but meta says ${index}`);
    const sm = new SimStateMachine(parsed.i, parsed.c);
    for (const id of parsed.e) sm.effects.set(id, 1);
    return sm;
  }
}
