// A joining master (empty store: no members, no cluster id) at the Raft door: before it knows
// which cluster it joins it lets in any cluster's leader; once its contacts named their cluster
// (RaftClusterState.expectClusterId, set by join.ts from /cluster/raft), only that one.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Raft } from "../../../src/gen/raft_pb.js";
import { RaftClusterState } from "../../../src/master/state/raft-cluster-state.js";
import { doorMetadata } from "../../../src/raft/runtime/door.js";
import { encodeBatchWire } from "../../../src/raft/runtime/wire-codec.js";
import { tempDir, waitFor } from "../../helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Opens Raft/Send with `md` and one heartbeat; resolves with "admitted" (an Ack) or the status code. */
async function knock(address: string, to: string, md: grpc.Metadata): Promise<"admitted" | grpc.status> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    `/${Raft.typeName}/${Raft.method.send.name}`,
    (b: Buffer) => b,
    (b: Buffer) => b,
    md,
  );
  let result: "admitted" | grpc.status | undefined;
  call.on("data", () => (result ??= "admitted"));
  call.on("error", () => undefined);
  call.on("status", (s: grpc.StatusObject) => (result ??= s.code));
  const from = md.get("x-raft-from")[0] as string;
  call.write(Buffer.from(encodeBatchWire([{ type: "heartbeat", from, to, term: 1, commit: 0, context: null }])));
  try {
    await waitFor(() => result !== undefined, { timeoutMs: 5_000, what: "an Ack or a status" });
  } finally {
    call.cancel();
    client.close();
  }
  return result!;
}

describe("a joining master at the Raft door", () => {
  it("lets in any cluster until its contacts named theirs, then only that one", async () => {
    const root = await tempDir("door-join-");
    cleanups.push(() => root.remove());
    const self = "127.0.0.1:1"; // symbolic: the runtime binds port 0 and never resolves itself
    const state = new RaftClusterState({
      id: self,
      dir: `${root.dir}/raft`,
      listenHost: "127.0.0.1",
      listenPort: 0,
      resolve: () => "127.0.0.1:1",
    });
    await state.open();
    cleanups.push(() => state.close());
    const address = `127.0.0.1:${state.runtime.port}`;
    expect(await knock(address, self, doorMetadata("127.0.0.1:7", "cluster-Y"))).toBe("admitted");
    state.expectClusterId("cluster-X");
    expect(await knock(address, self, doorMetadata("127.0.0.1:7", "cluster-Y"))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await knock(address, self, doorMetadata("127.0.0.1:8", "cluster-X"))).toBe("admitted");
    expect(state.topologyId).toBe(""); // the expectation is the door's, not the replicated state's
  });
});
