// ReadIndex (dissertation §6.4): a leader records its commit index for a read, confirms it is still
// the leader by a heartbeat round acknowledged by a quorum, and then answers with that index; the
// read is linearizable once the state machine has applied it.
//
// The leader tags each pending read with its own sequence number and sends the newest one as the
// heartbeat context. An acknowledgement of sequence s proves leadership at a moment after every
// read with a sequence <= s was registered, so a quorum for s releases all of them, in order.
import { assert } from "./errors.js";
import type { NodeId } from "./types.js";

export interface PendingRead {
  readonly seq: number;
  /** The commit index when the read arrived. */
  readonly index: number;
  /** The requester's opaque context, returned with the result. */
  readonly context: string;
  /** Who asked: this node (a local ReadState) or a follower (a read-index-response). */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

export class ReadIndexQueue {
  private queue: PendingRead[] = [];
  private nextSeq = 1;

  get size(): number {
    return this.queue.length;
  }

  add(index: number, context: string, from: NodeId, self: NodeId): PendingRead {
    const read: PendingRead = { seq: this.nextSeq++, index, context, from, acks: new Set([self]) };
    this.queue.push(read);
    return read;
  }

  /** The heartbeat context to send now: the newest pending read, or null. */
  lastContext(): string | null {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? null : String(last.seq);
  }

  /** Record `from`'s acknowledgement of heartbeat context `context`; returns the read it names. */
  ack(context: string, from: NodeId): PendingRead | undefined {
    const seq = Number(context);
    if (!Number.isSafeInteger(seq)) return undefined;
    // Sequence numbers in the queue are contiguous (reads leave from the front): O(1) lookup.
    const first = this.queue[0];
    if (first === undefined) return undefined;
    const read = this.queue[seq - first.seq];
    if (read === undefined) return undefined;
    assert(read.seq === seq, "read-index: queue sequence numbers not contiguous");
    read.acks.add(from);
    return read;
  }

  /** Remove and return every read up to and including `read`. */
  release(read: PendingRead): PendingRead[] {
    const i = this.queue.indexOf(read);
    assert(i >= 0, "read-index: releasing an unknown read");
    return this.queue.splice(0, i + 1);
  }

  clear(): void {
    this.queue = [];
  }
}
