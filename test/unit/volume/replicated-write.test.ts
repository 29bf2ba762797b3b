// The write handler's order of a replicated write (issue 11): with -fsync (or a record large enough
// to go to the thread pool) the local write and the replicas' run at once, and the client still
// gets 201 only after both; a local write that fails while the replicas stored the needle is
// outcome unknown (the volume marked for a check), never the local error's clean refusal. Small
// writes without fsync, and writes to a read-only volume, still go here first, then to replicas.
// A real HTTP server runs handleWrite; the store and the replicator are stubs that record calls.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32c } from "@node-rs/crc32";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { handleWrite } from "../../../src/volume/handlers-write.js";
import { etagOf } from "../../../src/volume/handlers-read.js";
import type { VolumeHttpContext } from "../../../src/volume/http-context.js";
import { InflightLimit } from "../../../src/volume/inflight-limit.js";
import type { PeerAnswer } from "../../../src/volume/replication/replica-client.js";
import {
  ReplicaOutcomeUnknown,
  type ReplicaNeedle,
  type Replicator,
} from "../../../src/volume/replication/replicator.js";
import type { NeedleInput, StoreApi, VolumeInfo, WriteResult } from "../../../src/volume/storage/store-api.js";
import { UploadBuffers } from "../../../src/volume/upload-buffers.js";

const VID = 3;
const PEER = { url: "127.0.0.9:8080", publicUrl: "127.0.0.9:8080" };

/** A deferred step: the test decides when a stubbed write or replica send finishes. */
function gate<T>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

interface Rig {
  url: string;
  events: string[];
  errors: unknown[];
  replicaNeedles: ReplicaNeedle[];
  localWrite: ReturnType<typeof gate<WriteResult>>;
  replicaSend: ReturnType<typeof gate<PeerAnswer[]>>;
  marked: number[];
  failuresCounted: number;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function rig(o: { fsync: boolean; readOnly?: boolean }): Promise<Rig> {
  const r: Rig = {
    url: "",
    events: [],
    errors: [],
    replicaNeedles: [],
    localWrite: gate<WriteResult>(),
    replicaSend: gate<PeerAnswer[]>(),
    marked: [],
    failuresCounted: 0,
  };
  const info = { id: VID, readOnly: o.readOnly ?? false, replicaPlacement: parseReplicaPlacement("010") };
  const store = {
    hasVolume: (v: number) => v === VID,
    volumeInfo: (v: number) => (v === VID ? (info as unknown as VolumeInfo) : undefined),
    write: async (_v: number, n: NeedleInput): Promise<WriteResult> => {
      r.events.push(`local start ${n.data.length}`);
      const res = await r.localWrite.promise;
      r.events.push("local done");
      return res;
    },
    markNeedsCheck: (v: number) => r.marked.push(v),
  };
  const replicator = {
    plan: async () => [PEER],
    write: async (_path: string, _v: number, _to: unknown, n: ReplicaNeedle): Promise<PeerAnswer[]> => {
      r.events.push("replicas start");
      r.replicaNeedles.push(n);
      const res = await r.replicaSend.promise;
      r.events.push("replicas done");
      return res;
    },
  };
  const ctx = {
    store: store as unknown as StoreApi,
    logger: silentLogger(),
    metrics: { replicaFailed: () => r.failuresCounted++, bytesWritten: () => undefined },
    fileSizeLimitBytes: 1024 * 1024,
    fsync: o.fsync,
    serverId: "127.0.0.1:8080",
    replicator: replicator as unknown as Replicator,
    nowSec: () => 1_700_000_000,
  } as unknown as VolumeHttpContext;
  const uploads = {
    limit: new InflightLimit({
      limitBytes: 0,
      waitMs: 1_000,
      waitersMax: 1,
      retryAfterSec: 1,
      what: "upload",
      flag: "-concurrentUploadLimitMB=0",
      waitFlag: "-inflightUploadDataTimeout=1s",
    }),
    buffers: new UploadBuffers({ pooledBytesMax: 0, pooledBytesMin: 1024 * 1024, idleMs: 1_000 }),
  };
  const server = createServer((req, res) => {
    handleWrite(ctx, req, res, uploads).catch((err: unknown) => {
      r.errors.push(err);
      res.writeHead(err instanceof ReplicaOutcomeUnknown ? 503 : 400);
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

const body = Buffer.from("hello, replicas");
const stored: WriteResult = { size: body.length, crc: crc32c(body), unchanged: false };
const confirmed: PeerAnswer[] = [{ status: 201, headers: { etag: `"${etagOf(crc32c(body))}"` }, text: "{}" }];

function put(r: Rig): Promise<{ status: number; etag: unknown }> {
  return request(`${r.url}/${VID},01637037d6`, { method: "PUT", body }).then(async (res) => {
    await res.body.text();
    return { status: res.statusCode, etag: res.headers["etag"] };
  });
}

/** Polls (bounded) until `events` holds `n` entries. */
async function eventsReach(r: Rig, n: number): Promise<void> {
  for (let i = 0; i < 200 && r.events.length < n; i++) await new Promise((res) => setTimeout(res, 5));
  expect(r.events.length).toBeGreaterThanOrEqual(n);
}

describe("replicated write order", () => {
  it("with fsync, sends to the replicas while the local write runs, and answers 201 only after both", async () => {
    const r = await rig({ fsync: true });
    const answer = put(r);
    await eventsReach(r, 2);
    expect(r.events).toEqual([`local start ${body.length}`, "replicas start"]);
    expect(r.replicaNeedles[0]!.etagExpected).toBe(etagOf(crc32c(body))); // replicas still checked
    expect(r.replicaNeedles[0]!.fsync).toBe(true);
    r.replicaSend.open(confirmed);
    await eventsReach(r, 3);
    r.localWrite.open(stored);
    const a = await answer;
    expect(a.status).toBe(201);
    expect(a.etag).toBe(`"${etagOf(stored.crc)}"`);
    expect(r.events.at(-1)).toBe("local done");
  });

  it("a local write failing after the replicas stored the needle is outcome unknown, never a clean 4xx", async () => {
    const r = await rig({ fsync: true });
    const answer = put(r);
    await eventsReach(r, 2);
    r.replicaSend.open(confirmed);
    await eventsReach(r, 3);
    r.localWrite.fail(new WeedError(ErrorCode.COOKIE_MISMATCH, "mismatching cookie 01637037"));
    expect((await answer).status).toBe(503);
    expect(r.errors[0]).toBeInstanceOf(ReplicaOutcomeUnknown);
    expect((r.errors[0] as ReplicaOutcomeUnknown).message).toMatch(/outcome unknown/);
    expect((r.errors[0] as ReplicaOutcomeUnknown).cause).toMatchObject({ code: ErrorCode.COOKIE_MISMATCH });
    expect(r.marked).toEqual([VID]);
    expect(r.failuresCounted).toBe(1);
  });

  it("a replica failure is the replicator's outcome unknown even when the local write succeeded", async () => {
    const r = await rig({ fsync: true });
    const answer = put(r);
    await eventsReach(r, 2);
    r.localWrite.open(stored);
    await eventsReach(r, 3);
    r.replicaSend.fail(new ReplicaOutcomeUnknown("failed to write to replicas for volume 3: outcome unknown"));
    expect((await answer).status).toBe(503);
    expect(r.errors[0]).toBeInstanceOf(ReplicaOutcomeUnknown);
    expect(r.marked).toEqual([]); // the replicator marks the volume itself
  });

  it("without fsync a small write goes here first: a local refusal reaches no replica", async () => {
    const r = await rig({ fsync: false });
    const answer = put(r);
    await eventsReach(r, 1);
    r.localWrite.fail(new WeedError(ErrorCode.COOKIE_MISMATCH, "mismatching cookie 01637037"));
    expect((await answer).status).toBe(400);
    expect(r.errors[0]).toMatchObject({ code: ErrorCode.COOKIE_MISMATCH });
    expect(r.events).toEqual([`local start ${body.length}`]);
    expect(r.marked).toEqual([]);
  });

  it("without fsync, the replicas get the ETag stored here after the local write", async () => {
    const r = await rig({ fsync: false });
    const answer = put(r);
    await eventsReach(r, 1);
    r.localWrite.open(stored);
    await eventsReach(r, 3);
    expect(r.events).toEqual([`local start ${body.length}`, "local done", "replicas start"]);
    r.replicaSend.open(confirmed);
    expect((await answer).status).toBe(201);
  });

  it("a read-only volume is written here first even with fsync, so its refusal reaches no replica", async () => {
    const r = await rig({ fsync: true, readOnly: true });
    const answer = put(r);
    await eventsReach(r, 1);
    r.localWrite.fail(new WeedError(ErrorCode.VOLUME_READ_ONLY, "volume 3 is read-only"));
    expect((await answer).status).toBe(400);
    expect(r.events).toEqual([`local start ${body.length}`]);
  });
});
