#!/usr/bin/env node
// The comparison baseline for the volume server benchmarks: a bare node:http server that answers
// every request with one fixed body held in memory (no routing, no disk). Whatever the volume
// server does beyond this costs throughput; bench-volume-wrk.sh reports the ratio.
//
//   node scripts/bare-node-server.mjs [-port=0] [-size=1024] [-ip=127.0.0.1]
//
// Prints "listening on <ip>:<port>" once bound; stops on SIGTERM/SIGINT.
import { createServer } from "node:http";

function flag(name, fallback) {
  const prefix = `-${name}=`;
  const hit = process.argv.slice(2).find((a) => a.startsWith(prefix) || a.startsWith(`-${prefix}`));
  return hit === undefined ? fallback : hit.slice(hit.indexOf("=") + 1);
}

const port = Number(flag("port", "0"));
const size = Number(flag("size", "1024"));
const ip = flag("ip", "127.0.0.1");
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`-port=${port}: expected 0..65535`);
if (!Number.isInteger(size) || size < 0 || size > 64 * 1024 * 1024)
  throw new Error(`-size=${size}: expected 0..64 MiB`);

const body = Buffer.alloc(size, 0x61);
// The same headers a volume server GET carries, so the comparison is about the work, not the bytes.
const headers = {
  "Content-Type": "application/octet-stream",
  "Content-Length": String(size),
  "Accept-Ranges": "bytes",
  ETag: '"00000000"',
};

const server = createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
});
// Match node's defaults a long-lived server would use with wrk: keep sockets open between requests.
server.keepAliveTimeout = 30_000;

server.listen(port, ip, () => {
  const addr = server.address();
  process.stdout.write(`listening on ${ip}:${typeof addr === "object" && addr ? addr.port : port}\n`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.once(sig, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
