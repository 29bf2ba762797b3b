// The simulator's state machine: a set of client requests with de-duplication by request id (a
// client retries with the same id after an unknown outcome, so a request may be in the log more
// than once but must take effect exactly once). The chain (chainAfter) is a running hash over
// every entry applied, kept per node by the simulation, so two nodes that applied the same prefix
// have the same chain at every index.
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

/** The chain after applying `e`: a running hash over every entry applied, of any type. */
export function chainAfter(chain: number, e: Entry): number {
  return fnv1a(chain, `${e.index}|${e.term}|${entryDigest(e)}`);
}

/** Where a node's application stands: its last applied entry and the chain up to it. */
export interface AppliedPosition {
  readonly index: number;
  readonly term: number;
  readonly chain: number;
}

/** How the state machine tells the simulation where it stands (the chain is kept per node by it). */
export interface PositionHooks {
  position(): AppliedPosition;
  /** The state machine was restored from a snapshot taken at `p` (checked against every node). */
  restored(p: AppliedPosition): void;
}

/** A request applied: its id and the index it was applied at (the client's acknowledgement). */
export interface SimAnswer {
  readonly reqId: string;
  readonly index: number;
}

/**
 * The runtime's state machine in the simulation: applies client commands, de-duplicated. Its
 * snapshot carries the applied position, so a node restoring it can be checked against the state
 * every other node had at that index.
 */
export class SimStateMachine {
  /** Request id -> number of times it took effect (must never exceed 1). */
  readonly effects = new Map<string, number>();
  private readonly hooks: PositionHooks;

  constructor(hooks: PositionHooks) {
    this.hooks = hooks;
  }

  apply(data: Uint8Array, index: number): SimAnswer {
    const reqId = requestId(decodeCommand(data));
    if (!this.effects.has(reqId)) this.effects.set(reqId, 1);
    return { reqId, index };
  }

  snapshot(): Uint8Array {
    const p = this.hooks.position();
    return new TextEncoder().encode(JSON.stringify({ i: p.index, t: p.term, c: p.chain, e: [...this.effects.keys()] }));
  }

  restore(data: Uint8Array): void {
    this.effects.clear();
    if (data.byteLength === 0) {
      // The bootstrap snapshot (raft-node.ts bootstrapState) is the only empty one: index 1, term 1.
      this.hooks.restored({ index: 1, term: 1, chain: CHAIN_SEED });
      return;
    }
    const parsed = JSON.parse(new TextDecoder().decode(data)) as { i: number; t: number; c: number; e: string[] };
    assert(Number.isSafeInteger(parsed.i) && Number.isSafeInteger(parsed.t), "state machine: bad snapshot");
    for (const id of parsed.e) this.effects.set(id, 1);
    this.hooks.restored({ index: parsed.i, term: parsed.t, chain: parsed.c });
  }
}
