// The master's white-list rule for forwarded requests (src/master/api/http-access.ts): the master
// a client reached checks the client; the leader trusts a forwarded request only when its peer is
// one of the cluster's masters (by address, host names resolved), never for the header alone.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MasterHttpAccess } from "../../../src/master/api/http-access.js";
import type { ClusterView, MasterMember } from "../../../src/master/state/cluster-view.js";

let members: MasterMember[] = [];
const cluster: ClusterView = {
  self: "127.0.0.1:9333",
  isLeader: () => true,
  leader: () => "127.0.0.1:9333",
  members: () => members,
  leaderKnown: async () => "127.0.0.1:9333",
};

let server: Server;
let port = 0;
let access: MasterHttpAccess;

/** Answers 200 "admitted" when access lets the request on; access answered otherwise. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0]!;
  const go = (ok: boolean): void => void (ok && res.end("admitted"));
  const r = access.admit(req, res, path);
  if (typeof r === "boolean") go(r);
  else void r.then(go);
}

beforeAll(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function call(from: string, path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers, localAddress: from }, (res) => {
      let text = "";
      res.on("data", (b: Buffer) => (text += b.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.once("error", reject);
    req.end();
  });
}

const FORWARDED = { "x-weed-forwarded-by": "127.0.0.3:9333" };

describe("master white list and forwarded requests", () => {
  it("an empty list admits all; reads are open with any list", async () => {
    access = new MasterHttpAccess({ whiteList: [] }, cluster);
    expect((await call("127.0.0.2", "/dir/assign")).status).toBe(200);
    access = new MasterHttpAccess({ whiteList: ["10.0.0.0/8"] }, cluster);
    for (const p of ["/dir/lookup?volumeId=1", "/cluster/status", "/metrics", "/healthz", "/"])
      expect((await call("127.0.0.2", p)).status, p).toBe(200);
  });

  it("writes and administration from an address not on the list are 403; any POST too", async () => {
    access = new MasterHttpAccess({ whiteList: ["127.0.0.1"] }, cluster);
    for (const p of ["/dir/assign", "/vol/grow?count=1", "/cluster/raft/transfer", "/col/delete"]) {
      const r = await call("127.0.0.2", p);
      expect(r.status, p).toBe(403);
      expect(JSON.parse(r.text).error).toContain("127.0.0.2");
    }
    expect((await call("127.0.0.2", "/dir/lookup", {}, "POST")).status).toBe(403);
    expect((await call("127.0.0.1", "/dir/assign")).status).toBe(200);
  });

  it("the leader trusts a forward from a master's address even when that master is not on the list", async () => {
    access = new MasterHttpAccess({ whiteList: ["127.0.0.1"] }, cluster);
    members = [
      { id: "127.0.0.1:9333", role: "leader" },
      { id: "127.0.0.3:9333", role: "follower" },
      { id: "localhost:9334", role: "follower" },
    ];
    expect((await call("127.0.0.3", "/dir/assign", FORWARDED)).status).toBe(200);
    // Without the header, the follower's own address is checked like anyone's.
    expect((await call("127.0.0.3", "/dir/assign")).status).toBe(403);
    // A stranger with a forged header is not a master.
    expect((await call("127.0.0.2", "/dir/assign", FORWARDED)).status).toBe(403);
    // Host names are resolved (localhost: 127.0.0.1, ::1).
    access = new MasterHttpAccess({ whiteList: ["10.0.0.1"] }, cluster);
    expect((await call("127.0.0.1", "/cluster/raft/remove?id=x", FORWARDED, "POST")).status).toBe(200);
    members = [];
    expect((await call("127.0.0.3", "/dir/assign", FORWARDED)).status).toBe(403);
  });
});
