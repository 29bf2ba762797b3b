// Free loopback ports for the benchmark scripts: each weed-ts server needs its HTTP port p and its
// default gRPC port p + 10000.
import { createServer } from "node:net";

export const GRPC_PORT_OFFSET = 10000;

export function portFree(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/** A loopback port p with p and p+10000 (its gRPC port) free and not yet taken by this bench. */
export async function freePortPair(taken) {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 35000);
    if (taken.has(p) || taken.has(p + GRPC_PORT_OFFSET)) continue;
    if ((await portFree(p)) && (await portFree(p + GRPC_PORT_OFFSET))) {
      taken.add(p).add(p + GRPC_PORT_OFFSET);
      return p;
    }
  }
  throw new Error("no free port pair in 200 attempts");
}
