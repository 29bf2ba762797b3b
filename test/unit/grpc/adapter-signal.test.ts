// A signal that outlives many gRPC calls (a leader's term, a vacuum pass) keeps no listener per
// finished call: each call's abort listener goes when the call ends, and a call still running is
// cancelled when the signal aborts.
import { getEventListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, GrpcCallError } from "../../../src/grpc/adapter.js";
import { VolumeServer } from "../../../src/gen/volume_server_pb.js";
import { startVolumeServerStub } from "./volume-server-stub.js";

let server: grpc.Server;
let port = 0;

beforeAll(async () => {
  ({ server, port } = await startVolumeServerStub({
    async vacuumVolumeCheck(req: { volumeId: number }) {
      if (req.volumeId === 99) await new Promise((r) => setTimeout(r, 10_000));
      return { garbageRatio: req.volumeId / 100 };
    },
    vacuumVolumeCompact(call: grpc.ServerWritableStream<unknown, unknown>) {
      call.end();
    },
  }));
});

afterAll(() => {
  server.forceShutdown();
});

describe("gRPC calls and abort signals", () => {
  it("finished unary and streaming calls leave no listener on a long-lived signal", async () => {
    const c = createClient(VolumeServer, `127.0.0.1:${port}`);
    const term = new AbortController();
    try {
      for (let i = 1; i <= 20; i++) {
        const r = await c.vacuumVolumeCheck({ volumeId: i }, { signal: term.signal, timeoutMs: 5_000 });
        expect(r.garbageRatio).toBeCloseTo(i / 100);
        const stream = c.vacuumVolumeCompact({ volumeId: i }, { signal: term.signal, timeoutMs: 5_000 });
        for await (const _ of stream as AsyncIterable<unknown>) {
          // drained
        }
        await new Promise((r) => setImmediate(r)); // the stream's status event follows its end
      }
      expect(getEventListeners(term.signal, "abort")).toHaveLength(0);
    } finally {
      c.close();
    }
  });

  it("a call under way is cancelled when its signal aborts", async () => {
    const c = createClient(VolumeServer, `127.0.0.1:${port}`);
    const term = new AbortController();
    try {
      const slow = c.vacuumVolumeCheck({ volumeId: 99 }, { signal: term.signal, timeoutMs: 20_000 });
      setTimeout(() => term.abort(), 50);
      const err = await slow.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GrpcCallError);
      expect((err as GrpcCallError).code).toBe(grpc.status.CANCELLED);
    } finally {
      c.close();
    }
  });
});
