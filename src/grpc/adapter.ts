// Serves and calls protobuf-es (v2) services with @grpc/grpc-js.
//
// grpc-js wants a ServiceDefinition (path + serializers per method); protobuf-es gives us
// descriptors (GenService). This file is the only bridge between the two, so the rest of the
// code sees typed messages on both sides and never touches grpc-js serialization.
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { noChannelz, processChannelCredentials, serverCredentialsOf } from "./tls.js";
import { adminCallInterceptor } from "./admin-call.js";

type Methods<S> = S extends GenService<infer M> ? M : never;
type In<M> = M extends { input: infer I extends DescMessage } ? I : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? O : never;

/** The handler for one method, by kind: unary methods are async functions, streams get the call. */
export type MethodImpl<M> = M extends { methodKind: "unary" }
  ? (
      req: MessageShape<In<M>>,
      call: grpc.ServerUnaryCall<MessageShape<In<M>>, MessageShape<Out<M>>>,
    ) => Promise<MessageInitShape<Out<M>>>
  : M extends { methodKind: "bidi_streaming" }
    ? (call: grpc.ServerDuplexStream<MessageShape<In<M>>, MessageShape<Out<M>>>) => void
    : M extends { methodKind: "server_streaming" }
      ? (call: grpc.ServerWritableStream<MessageShape<In<M>>, MessageShape<Out<M>>>) => void
      : (
          call: grpc.ServerReadableStream<MessageShape<In<M>>, MessageShape<Out<M>>>,
          callback: grpc.sendUnaryData<MessageShape<Out<M>>>,
        ) => void;

export type ServiceImpl<S extends GenService<GenServiceMethods>> = {
  [K in keyof Methods<S>]: MethodImpl<Methods<S>[K]>;
};

/** Maps a thrown error to a gRPC status; the edges (master, volume) provide their own table. */
export type ErrorToStatus = (err: unknown) => { code: grpc.status; details: string };

const defaultErrorToStatus: ErrorToStatus = (err) => ({
  code: grpc.status.UNKNOWN,
  details: err instanceof Error ? err.message : String(err),
});

function methodPath(svc: GenService<GenServiceMethods>, m: DescMethod): string {
  return `/${svc.typeName}/${m.name}`;
}

/**
 * toBinary's array is freshly allocated for this message and never reused, so a Buffer view of it
 * is safe; Buffer.from(array) would copy every message once more (4 MiB per VolumeCopy chunk).
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Request decoders by method name, in place of fromBinary (a hand-written one for a hot message). */
export type RequestDecoders = Readonly<Record<string, (bytes: Uint8Array) => unknown>>;

/**
 * Request encoders by method name, in place of toBinary (a hand-written one for a hot message). The
 * array must be the encoder's own (not reused after it returns): grpc-js may hold it until sent.
 */
export type RequestEncoders = Readonly<Record<string, (msg: never) => Uint8Array>>;

function methodDefinition(
  svc: GenService<GenServiceMethods>,
  m: DescMethod,
  decoders: RequestDecoders = {},
  encoders: RequestEncoders = {},
): grpc.MethodDefinition<unknown, unknown> {
  const decode = decoders[m.localName];
  const encode = encoders[m.localName] as ((msg: unknown) => Uint8Array) | undefined;
  return {
    path: methodPath(svc, m),
    requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
    responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
    requestSerialize:
      encode === undefined
        ? (msg: unknown) => asBuffer(toBinary(m.input, msg as MessageShape<DescMessage>))
        : (msg: unknown) => asBuffer(encode(msg)),
    requestDeserialize: decode ?? ((buf: Buffer) => fromBinary(m.input, buf)),
    responseSerialize: (msg: unknown) => asBuffer(toBinary(m.output, msg as MessageShape<DescMessage>)),
    responseDeserialize: (buf: Buffer) => fromBinary(m.output, buf),
    originalName: m.localName,
  };
}

export function serviceDefinition(
  svc: GenService<GenServiceMethods>,
  decoders: RequestDecoders = {},
): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of svc.methods) def[m.localName] = methodDefinition(svc, m, decoders);
  return def;
}

/** Adds a protobuf-es service to a grpc-js server. Unary handlers may throw; the error is mapped. */
export function addService<S extends GenService<GenServiceMethods>>(
  server: grpc.Server,
  svc: S,
  impl: ServiceImpl<S>,
  errorToStatus: ErrorToStatus = defaultErrorToStatus,
  decoders: RequestDecoders = {},
): void {
  const handlers: grpc.UntypedServiceImplementation = {};
  const implByName = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const m of svc.methods) {
    const fn = implByName[m.localName];
    if (fn === undefined) throw new Error(`service ${svc.typeName}: no handler for ${m.name}`);
    if (m.methodKind === "unary") {
      handlers[m.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        Promise.resolve()
          .then(() => fn(call.request, call))
          .then(
            (res) => callback(null, create(m.output, res as MessageInitShape<DescMessage>)),
            (err: unknown) => {
              const { code, details } = errorToStatus(err);
              callback({ code, details, name: "Error", message: details, metadata: new grpc.Metadata() });
            },
          );
      };
    } else {
      handlers[m.localName] = fn as grpc.UntypedHandleCall;
    }
  }
  server.addService(serviceDefinition(svc, decoders), handlers);
}

/** A typed client: unary methods return promises; streaming methods return the grpc-js call. */
export type ServiceClient<S extends GenService<GenServiceMethods>> = {
  [K in keyof Methods<S>]: Methods<S>[K] extends { methodKind: "unary" }
    ? (req: MessageInitShape<In<Methods<S>[K]>>, opts?: CallOptions) => Promise<MessageShape<Out<Methods<S>[K]>>>
    : Methods<S>[K] extends { methodKind: "bidi_streaming" }
      ? (
          opts?: CallOptions,
        ) => grpc.ClientDuplexStream<MessageShape<In<Methods<S>[K]>>, MessageShape<Out<Methods<S>[K]>>>
      : Methods<S>[K] extends { methodKind: "server_streaming" }
        ? (
            req: MessageInitShape<In<Methods<S>[K]>>,
            opts?: CallOptions,
          ) => grpc.ClientReadableStream<MessageShape<Out<Methods<S>[K]>>>
        : never;
} & { close(): void };

export interface CallOptions {
  /** Per-call deadline in milliseconds from now. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Request metadata (gRPC headers), e.g. the masters a forwarded call passed. */
  metadata?: Readonly<Record<string, string>>;
}

function metadataOf(opts: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  return md;
}

/**
 * grpc-js reports "the call never left this process" (no connection could be made) only in the
 * status details; this is the one place that reads them, so callers branch on a field.
 */
function isNeverConnected(code: grpc.status, details: string): boolean {
  return code === grpc.status.UNAVAILABLE && /No connection established|ECONNREFUSED/.test(details);
}

/** Errors from a unary call carry the gRPC status code. */
export class GrpcCallError extends Error {
  readonly code: grpc.status;
  /** True when no connection to the server was made: the call cannot have taken effect. */
  readonly neverConnected: boolean;
  constructor(code: grpc.status, details: string, options?: ErrorOptions) {
    super(details, options);
    this.name = "GrpcCallError";
    this.code = code;
    this.neverConnected = isNeverConnected(code, details);
  }
}

/** grpc-js's call options for ours: a deadline from timeoutMs. */
function callOptionsOf(opts: CallOptions): grpc.CallOptions {
  return opts.timeoutMs === undefined ? {} : { deadline: Date.now() + opts.timeoutMs };
}

/**
 * Cancels `call` when `signal` aborts, and forgets the signal once the call ends: a signal that
 * outlives many calls (a leader's term, a vacuum pass) must not collect a listener per call.
 */
function cancelOnAbort(call: grpc.Call, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  const cancel = (): void => call.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  call.once("status", () => signal.removeEventListener("abort", cancel));
}

interface ClientMethod {
  m: DescMethod;
  path: string;
  def: grpc.MethodDefinition<unknown, unknown>;
}

/** Each service's methods with their paths and serializers, built once per service and encoders. */
const clientMethods = new WeakMap<GenService<GenServiceMethods>, WeakMap<RequestEncoders, readonly ClientMethod[]>>();

function clientMethodsOf(svc: GenService<GenServiceMethods>, encoders: RequestEncoders): readonly ClientMethod[] {
  let bySvc = clientMethods.get(svc);
  if (bySvc === undefined) clientMethods.set(svc, (bySvc = new WeakMap()));
  let methods = bySvc.get(encoders);
  if (methods === undefined) {
    methods = svc.methods.map((m) => ({ m, path: methodPath(svc, m), def: methodDefinition(svc, m, {}, encoders) }));
    bySvc.set(encoders, methods);
  }
  return methods;
}

/** The encoders of a client that names none (one object, so its methods are built once). */
const noEncoders: RequestEncoders = {};

const IPV4_HOST_PORT = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+$/;
const IPV6_HOST_PORT = /^\[[0-9a-fA-F:.]+\]:\d+$/;

/**
 * The channel target for "host:port": an IP literal goes to grpc-js's ipv4:/ipv6: resolver, which
 * takes the address as it is. Its DNS resolver, which also passes IP literals through, builds a
 * c-ares resolver for each channel first (~0.3 ms: a volume server makes a channel per heartbeat
 * session, 1,000 of them at once after a failover). The authority (and TLS name) stays "host:port".
 */
export function channelTarget(address: string): string {
  if (IPV4_HOST_PORT.test(address)) return `ipv4:${address}`;
  if (IPV6_HOST_PORT.test(address)) return `ipv6:${address}`;
  return address;
}

/**
 * A typed client of `svc` at `address`. `credentials`: by default the process's (./tls.ts: mutual
 * TLS once security.toml's [grpc] is configured, insecure otherwise).
 */
export function createClient<S extends GenService<GenServiceMethods>>(
  svc: S,
  address: string,
  channelOptions: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = processChannelCredentials(),
  encoders: RequestEncoders = noEncoders,
): ServiceClient<S> {
  // The calls below go through the base Client's make*Request: no per-service subclass is needed
  // (makeGenericClientConstructor built a class per client: a volume server makes one per session).
  // The process's admin key (admin-call.ts) signs the calls that need one.
  const client = new grpc.Client(channelTarget(address), credentials, {
    ...noChannelz,
    ...channelOptions,
    interceptors: [adminCallInterceptor],
  });
  const out: Record<string, unknown> = { close: () => client.close() };
  for (const { m, path, def } of clientMethodsOf(svc, encoders)) {
    if (m.methodKind === "unary") {
      out[m.localName] = (req: MessageInitShape<DescMessage>, opts: CallOptions = {}) =>
        new Promise((resolve, reject) => {
          const call = client.makeUnaryRequest(
            path,
            def.requestSerialize,
            def.responseDeserialize,
            create(m.input, req),
            metadataOf(opts),
            callOptionsOf(opts),
            (err: grpc.ServiceError | null, res?: unknown) => {
              if (err) reject(new GrpcCallError(err.code, err.details || err.message, { cause: err }));
              else resolve(res);
            },
          );
          cancelOnAbort(call, opts.signal);
        });
    } else if (m.methodKind === "bidi_streaming") {
      out[m.localName] = (opts: CallOptions = {}) => {
        const call = client.makeBidiStreamRequest(
          path,
          def.requestSerialize,
          def.responseDeserialize,
          metadataOf(opts),
          callOptionsOf(opts),
        );
        cancelOnAbort(call, opts.signal);
        return call;
      };
    } else if (m.methodKind === "server_streaming") {
      out[m.localName] = (req: MessageInitShape<DescMessage>, opts: CallOptions = {}) => {
        const call = client.makeServerStreamRequest(
          path,
          def.requestSerialize,
          def.responseDeserialize,
          create(m.input, req),
          metadataOf(opts),
          callOptionsOf(opts),
        );
        cancelOnAbort(call, opts.signal);
        return call;
      };
    }
  }
  return out as ServiceClient<S>;
}

/** The gRPC port could not be bound (in use, not permitted, no such address). */
export class GrpcBindError extends Error {
  override readonly name = "GrpcBindError";
}

/**
 * Binds a grpc-js server; resolves with the bound port (useful with port 0 in tests). A server
 * made by newGrpcServer (./tls.ts) with [grpc] configured is bound with its mutual TLS.
 */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, serverCredentialsOf(server), (err, bound) => {
      // grpc-js says only "No address added out of total 1 resolved"; the likely cause is named.
      if (err)
        reject(new GrpcBindError(`cannot listen on gRPC ${host}:${port} (in use?): ${err.message}`, { cause: err }));
      else resolve(bound);
    });
  });
}

export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
