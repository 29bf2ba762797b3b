// The runtime's transport (ports.ts RaftTransport) on the simulated network, for one node
// incarnation. Sending hands each message to SimNetwork (loss, duplication, delay, reordering,
// partitions); the simulation delivers what arrives to whichever incarnation of the addressee is
// up. A message to a peer behind a cut link is reported unreachable, as a gRPC stream that is
// down would be.
import type { RaftTransport, TransportCounters, TransportHandlers } from "../runtime/ports.js";
import type { Message, NodeId } from "../types.js";

/** What the simulation learns from a node's transport. */
export interface TransportObserver {
  /** A message left this node (already counted and checked by the simulation). */
  sent(m: Message): void;
  /** Is the link from -> to cut right now? */
  isCut(from: NodeId, to: NodeId): boolean;
}

export class SimTransport implements RaftTransport {
  readonly id: NodeId;
  readonly handlers: TransportHandlers;
  /** Every message sent, so the store can tell which of a Ready's messages went out before its write. */
  private readonly sentSet: WeakSet<object>;
  readonly stats: TransportCounters = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    receivedMessages: 0,
    receivedBatches: 0,
    rejectedMessages: 0,
    reconnects: 0,
  };
  private readonly observer: TransportObserver;
  private dead = false;

  constructor(id: NodeId, handlers: TransportHandlers, observer: TransportObserver, sentSet: WeakSet<object>) {
    this.id = id;
    this.handlers = handlers;
    this.observer = observer;
    this.sentSet = sentSet;
  }

  kill(): void {
    this.dead = true;
  }

  get up(): boolean {
    return !this.dead;
  }

  async start(): Promise<number> {
    return 0;
  }

  send(msgs: readonly Message[]): void {
    if (this.dead) return;
    this.stats.sentBatches++;
    for (const m of msgs) {
      this.sentSet.add(m);
      this.stats.sentMessages++;
      this.observer.sent(m);
      if (this.observer.isCut(m.from, m.to)) this.handlers.onUnreachable(m.to);
    }
  }

  /** A message arrived for this incarnation. */
  deliver(m: Message): void {
    if (this.dead) return;
    this.stats.receivedMessages++;
    this.handlers.onMessage(m);
  }

  /** The connection to `peer` broke (the cluster decides when: a crash, a false alarm). */
  peerLost(peer: NodeId): void {
    if (!this.dead) this.handlers.onPeerLost(peer);
  }

  removePeer(_id: NodeId): void {}

  async close(): Promise<void> {
    this.dead = true;
  }
}
