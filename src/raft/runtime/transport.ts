// The Raft transport on @grpc/grpc-js: this node serves raft_pb.Raft/Send, and keeps one client
// stream per peer carrying that peer's messages in order (proto/raft.proto).
//
// Never blocks the runtime's loop: send() only queues and writes what the stream accepts. Each
// peer's queue is bounded in messages and bytes; a message that does not fit, or that is sent
// while the peer's stream is down and backing off, is dropped and the core is told
// (reportUnreachable), which makes it stop pipelining and probe. Raft tolerates any loss.
// A broken stream is reopened after a capped exponential backoff with full jitter.
//
// A silent peer is given up, not waited for: a stream the peer has not answered (with its id)
// within peerLivenessMs, or a connection whose keepalive ping goes unanswered for peerPingTimeoutMs,
// is cancelled, and the next attempt opens a new channel with a new socket. TCP alone would notice a
// lossy cut only after minutes and use a healed link only at its next retransmission, which backs
// off to tens of seconds; this way a heal is seen within about a second.
import * as grpc from "@grpc/grpc-js";
import { Raft } from "../../gen/raft_pb.js";
import { bindServer, shutdownServer } from "../../grpc/adapter.js";
import { noChannelz, processChannelCredentials } from "../../grpc/tls.js";
import type { Message, NodeId } from "../types.js";
import { checkDoor, doorMetadata, LogOncePer, remoteHost, type DoorConfig } from "./door.js";
import { MessageCodecError } from "./errors.js";
import { connectRefused } from "./peer-gone-probe.js";
import type { RuntimeLimits } from "./limits.js";
import type { RuntimeLogger } from "./logger.js";
import type { TransportCounters, TransportHandlers } from "./ports.js";
import { messageBytes } from "./message-codec.js";
import { decodeAckWire, decodeBatchWire, encodeAckWire, encodeBatchWire } from "./wire-codec.js";

export interface TransportConfig extends DoorConfig {
  id: NodeId;
  /** Where the gRPC server binds. */
  listenHost: string;
  listenPort: number;
  /** NodeId -> gRPC "host:port" of that node's Raft server. */
  resolve: (id: NodeId) => string;
  /**
   * A gRPC server the application already runs (the master's, on its gRPC port, as SeaweedFS
   * does): the Raft service is added to it instead of binding a server of its own, and close()
   * leaves it to its owner.
   */
  server?: grpc.Server;
  limits: RuntimeLimits;
  log: RuntimeLogger;
  /** Uniform in [0, 1), for the reconnect jitter. Default: Math.random. */
  random?: () => number;
}

/** The transport's counters (ports.ts defines what every transport counts), and streams refused at the door. */
export type TransportStats = TransportCounters & { refusedStreams: number };

/**
 * raft_pb.Raft/Send with the fast codec (wire-codec.ts) instead of src/grpc/adapter.ts's generic
 * protobuf-es serializers: the client writes arrays of core Messages, the server receives the raw
 * batch bytes and decodes them itself (so a bad batch is counted and answered, not just dropped).
 */
const SEND_METHOD: grpc.MethodDefinition<readonly Message[], string> = {
  path: `/${Raft.typeName}/${Raft.method.send.name}`,
  requestStream: true,
  responseStream: true,
  requestSerialize: (msgs: readonly Message[]) => encodeBatchWire(msgs),
  requestDeserialize: (buf: Buffer) => buf as unknown as readonly Message[],
  responseSerialize: (node: string) => encodeAckWire(node),
  responseDeserialize: (buf: Buffer) => decodeAckWire(buf),
};

type SendStream = grpc.ClientDuplexStream<readonly Message[], string>;
type ServerStream = grpc.ServerDuplexStream<Buffer, string>;

function serverOptions(limits: RuntimeLimits): grpc.ServerOptions {
  return {
    "grpc.max_receive_message_length": limits.grpcMessageBytesMax,
    "grpc.max_send_message_length": limits.grpcMessageBytesMax,
    ...noChannelz,
  };
}

/** A server of its own (no shared one given) also pings its clients, to shed streams of dead peers. */
function ownServerOptions(limits: RuntimeLimits): grpc.ServerOptions {
  return {
    ...serverOptions(limits),
    "grpc.keepalive_time_ms": limits.peerLivenessMs,
    "grpc.keepalive_timeout_ms": limits.peerPingTimeoutMs,
  };
}

function channelOptions(limits: RuntimeLimits): grpc.ChannelOptions {
  return {
    ...serverOptions(limits),
    "grpc.initial_reconnect_backoff_ms": limits.reconnectBackoffBaseMs,
    "grpc.max_reconnect_backoff_ms": limits.reconnectBackoffMaxMs,
    // Retries would buffer every streamed message until the call commits; Raft resends itself.
    "grpc.enable_retries": 0,
    "grpc.keepalive_time_ms": limits.peerLivenessMs,
    "grpc.keepalive_timeout_ms": limits.peerPingTimeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    // A channel of its own per peer, not grpc-js's process-wide shared connection: closing it
    // must abandon a connect stuck behind a cut, so that the next attempt sends a fresh SYN.
    "grpc.use_local_subchannel_pool": 1,
  };
}

export class GrpcTransport {
  private readonly cfg: TransportConfig;
  private readonly handlers: TransportHandlers;
  private server: grpc.Server | null = null;
  private readonly serverCalls = new Set<ServerStream>();
  private readonly peers = new Map<NodeId, PeerSender>();
  private closed = false;
  private readonly refusedLog = new LogOncePer();
  readonly stats: TransportStats = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    receivedMessages: 0,
    receivedBatches: 0,
    rejectedMessages: 0,
    reconnects: 0,
    refusedStreams: 0,
  };

  constructor(cfg: TransportConfig, handlers: TransportHandlers) {
    this.cfg = cfg;
    this.handlers = handlers;
  }

  /** Binds the server; resolves with the bound port. */
  async start(): Promise<number> {
    const shared = this.cfg.server;
    const server = shared ?? new grpc.Server(ownServerOptions(this.cfg.limits));
    server.addService(
      { send: SEND_METHOD as grpc.MethodDefinition<unknown, unknown> },
      { send: (call: ServerStream) => this.serve(call) },
    );
    if (shared !== undefined) return this.cfg.listenPort;
    const port = await bindServer(server, this.cfg.listenHost, this.cfg.listenPort);
    this.server = server;
    return port;
  }

  /** Queue `msgs` to their peers and write what each stream accepts now. */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    for (const m of msgs) {
      this.peer(m.to).enqueue(m);
    }
    for (const p of this.peers.values()) p.flush();
  }

  /** Forget a peer that left the group (closes its stream and channel). */
  removePeer(id: NodeId): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    this.peers.delete(id);
    p.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const call of this.serverCalls) call.end();
    this.serverCalls.clear();
    const server = this.server;
    this.server = null;
    if (server !== null && this.cfg.server === undefined)
      await shutdownServer(server, this.cfg.limits.serverShutdownGraceMs);
  }

  private peer(id: NodeId): PeerSender {
    let p = this.peers.get(id);
    if (p === undefined) {
      p = new PeerSender(id, this.cfg, this.stats, {
        unreachable: () => this.handlers.onUnreachable(id),
        lost: () => this.handlers.onPeerLost(id),
      });
      this.peers.set(id, p);
    }
    return p;
  }

  private serve(call: ServerStream): void {
    if (this.closed) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "raft transport closed" });
      return;
    }
    // The door (door.ts): checked on the stream's metadata, before any data is read; a refused
    // stream is not told this node's id.
    const door = checkDoor(call.metadata, this.cfg);
    if (!door.ok) {
      this.refused(call, door.code, door.why);
      return;
    }
    const from = door.from;
    this.serverCalls.add(call);
    call.write(this.cfg.id);
    call.on("data", (batch: Buffer) => this.receive(call, from, batch));
    call.on("error", () => this.serverCalls.delete(call)); // The client went away.
    call.on("end", () => {
      this.serverCalls.delete(call);
      call.end();
    });
  }

  private refused(call: ServerStream, code: grpc.status, why: string): void {
    this.stats.refusedStreams++;
    const peer = call.getPeer();
    if (this.refusedLog.shouldLog(remoteHost(peer)))
      this.cfg.log.warn({ peer, why }, "raft: refused a stream at the door (logged once a minute per host)");
    call.on("error", () => undefined);
    call.emit("error", { code, details: "raft: refused: not a member of this cluster" });
  }

  private receive(call: ServerStream, from: NodeId, batch: Buffer): void {
    if (this.closed) return;
    this.stats.receivedBatches++;
    let msgs: Message[];
    try {
      msgs = decodeBatchWire(batch);
    } catch (err) {
      if (!(err instanceof MessageCodecError)) throw err;
      this.stats.rejectedMessages++;
      this.cfg.log.warn({ err: err.message, peer: call.getPeer() }, "raft: undecodable batch; closing the stream");
      this.serverCalls.delete(call);
      call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: err.message });
      return;
    }
    for (const m of msgs) {
      if (m.to !== this.cfg.id || m.from !== from) {
        // Misrouted (e.g. a resolver that maps an id to the wrong port): never reaches the core,
        // whose step() asserts the address. Nor does a message in another sender's name than the
        // one the stream was admitted for.
        this.stats.rejectedMessages++;
        continue;
      }
      this.stats.receivedMessages++;
      this.handlers.onMessage(m);
    }
  }
}

/** What a PeerSender reports about its peer (TransportHandlers, for this peer). */
interface PeerEvents {
  unreachable(): void;
  lost(): void;
}

/** One peer: a bounded queue in front of one gRPC client stream, reopened with backoff. */
class PeerSender {
  private readonly id: NodeId;
  private readonly cfg: TransportConfig;
  private readonly stats: TransportStats;
  private readonly events: PeerEvents;
  private readonly random: () => number;
  private client: grpc.Client | null = null;
  private address = "";
  private call: SendStream | null = null;
  /** False while the stream's buffer is full, until 'drain'. */
  private writable = true;
  private queue: Message[] = [];
  private queueBytes = 0;
  /** Consecutive failed streams (no Ack received); drives the backoff. */
  private failures = 0;
  /** The current stream was answered with the peer's id: a connection to the live peer existed. */
  private answered = false;
  private backoffTimer: NodeJS.Timeout | null = null;
  /** Runs while the open stream waits for the peer's id (see the file comment). */
  private answerTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(id: NodeId, cfg: TransportConfig, stats: TransportStats, events: PeerEvents) {
    this.id = id;
    this.cfg = cfg;
    this.stats = stats;
    this.events = events;
    this.random = cfg.random ?? Math.random;
  }

  enqueue(m: Message): void {
    const bytes = messageBytes(m);
    const L = this.cfg.limits;
    const full =
      this.queue.length >= L.peerQueueMessagesMax ||
      (this.queue.length > 0 && this.queueBytes + bytes > L.peerQueueBytesMax);
    if (this.closed || this.backoffTimer !== null || full) {
      this.stats.droppedMessages++;
      this.events.unreachable();
      return;
    }
    this.queue.push(m);
    this.queueBytes += bytes;
  }

  flush(): void {
    if (this.closed || this.queue.length === 0 || this.backoffTimer !== null) return;
    let call = this.call;
    if (call === null) {
      try {
        call = this.open();
      } catch (err) {
        // E.g. the resolver does not know the peer (yet): like a failed connection.
        this.cfg.log.warn({ peer: this.id, err: (err as Error).message }, "raft: cannot open a stream to peer");
        this.backOff();
        return;
      }
    }
    const L = this.cfg.limits;
    while (this.writable && this.queue.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && n < L.batchMessagesMax) {
        const b = messageBytes(this.queue[n] as Message);
        if (n > 0 && bytes + b > L.batchBytesMax) break;
        bytes += b;
        n++;
      }
      const msgs = n === this.queue.length ? this.queue : this.queue.slice(0, n);
      this.queue = n === this.queue.length ? [] : this.queue.slice(n);
      this.queueBytes = this.queue.length === 0 ? 0 : this.queueBytes - bytes;
      this.stats.sentBatches++;
      this.stats.sentMessages += msgs.length;
      this.writable = call.write(msgs);
    }
  }

  private open(): SendStream {
    // Resolve on every (re)connect: a peer may come back at another address.
    const address = this.cfg.resolve(this.id);
    if (this.client !== null && address !== this.address) {
      this.client.close();
      this.client = null;
    }
    if (this.client === null) {
      this.client = new grpc.Client(address, processChannelCredentials(), channelOptions(this.cfg.limits));
      this.address = address;
    }
    const call: SendStream = this.client.makeBidiStreamRequest(
      SEND_METHOD.path,
      SEND_METHOD.requestSerialize,
      SEND_METHOD.responseDeserialize,
      doorMetadata(this.cfg.id, this.cfg.clusterId?.() ?? ""),
    );
    this.call = call;
    this.writable = true;
    this.answered = false;
    this.answerTimer = setTimeout(() => {
      this.answerTimer = null;
      this.broken(call, null, "peer did not answer the stream's open in time");
    }, this.cfg.limits.peerLivenessMs);
    call.on("data", (node: string) => {
      this.clearAnswerTimer();
      if (node === this.id) {
        this.failures = 0;
        this.answered = true;
        return;
      }
      this.cfg.log.warn(
        { peer: this.id, answered: node },
        "raft: peer address answered with another node id; check the resolver",
      );
      call.cancel();
    });
    call.on("drain", () => {
      if (this.call !== call) return;
      this.writable = true;
      this.flush();
    });
    call.on("error", (err: grpc.ServiceError) => this.broken(call, err));
    call.on("end", () => this.broken(call, null));
    return call;
  }

  private broken(call: SendStream, err: grpc.ServiceError | null, why?: string): void {
    if (this.call !== call) return;
    this.call = null;
    this.clearAnswerTimer();
    call.cancel(); // Free our half too; the resulting CANCELLED error is ignored above.
    // The connection behind a broken stream is suspect (a keepalive timeout, a connect stuck
    // behind a cut): the next stream starts on a new one.
    this.client?.close();
    this.client = null;
    if (this.closed) return;
    // A broken connection to a peer that had answered: gone, or only slow? Not a stream that never
    // opened, nor a refusal.
    if (this.answered && (err === null || err.code === grpc.status.UNAVAILABLE)) this.probeGone(this.address);
    if (this.failures === 0 && err?.code === grpc.status.PERMISSION_DENIED) {
      this.cfg.log.warn(
        { peer: this.id, err: err.details },
        "raft: peer refused our stream (it belongs to another cluster, or does not count us a member)",
      );
    } else if (this.failures === 0) {
      this.cfg.log.info(
        { peer: this.id, err: why ?? err?.details ?? "stream ended" },
        "raft: stream to peer broken; reconnecting",
      );
    }
    this.backOff();
  }

  /**
   * Reports the peer lost (the core then campaigns early if it was the leader) only when its port
   * refuses a TCP connect: the process is gone (kill -9). A keepalive timeout of a live but
   * stalled peer connects, and is left to the election timeout: on a loaded machine (load 9+)
   * counting every broken stream made a busy leader lose leadership every few seconds.
   */
  private probeGone(address: string): void {
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port)) return;
    void connectRefused(host, port, this.cfg.limits.peerGoneProbeMs).then((refused) => {
      if (refused && !this.closed) this.events.lost();
    });
  }

  private clearAnswerTimer(): void {
    if (this.answerTimer !== null) clearTimeout(this.answerTimer);
    this.answerTimer = null;
  }

  /** Drop what is queued, tell the core, and wait a jittered, capped, growing delay. */
  private backOff(): void {
    this.failures++;
    this.stats.reconnects++;
    this.stats.droppedMessages += this.queue.length;
    this.queue = [];
    this.queueBytes = 0;
    this.events.unreachable();
    const L = this.cfg.limits;
    const cap = Math.min(L.reconnectBackoffMaxMs, L.reconnectBackoffBaseMs * 2 ** Math.min(this.failures - 1, 16));
    const delay = Math.floor(this.random() * cap); // Full jitter.
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
    }, delay);
    this.backoffTimer.unref();
  }

  close(): void {
    this.closed = true;
    this.clearAnswerTimer();
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    const call = this.call;
    this.call = null;
    call?.end();
    this.client?.close();
    this.client = null;
    this.queue = [];
    this.queueBytes = 0;
  }
}
