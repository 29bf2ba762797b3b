// Driving RaftNodes by hand in tests, as a runtime would with nothing persisted: a node's Readies
// handled in turn, and messages delivered among a group until it is quiet.
import type { RaftNode } from "../../../src/raft/raft-node.js";
import type { Message, NodeId } from "../../../src/raft/types.js";

/** Handle a node's Ready as a runtime would (nothing persisted here) and return its messages. */
export function drain(n: RaftNode): Message[] {
  const out: Message[] = [];
  while (n.hasReady()) {
    const rd = n.ready();
    out.push(...rd.messages);
    n.advance(rd);
  }
  return out;
}

/** Deliver messages among `nodes` until none are left (bounded: a group that never quiets throws). */
export function pump(nodes: Map<NodeId, RaftNode>): void {
  for (let round = 0; round < 100; round++) {
    const msgs = [...nodes.values()].flatMap(drain);
    if (msgs.length === 0) return;
    for (const m of msgs) nodes.get(m.to)?.step(m);
  }
  throw new Error("no quiescence");
}
