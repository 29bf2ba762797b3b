// One keep-alive undici Pool per "host:port", created on first use. A benchmark talks to one
// master and a handful of volume servers, so the map stays small; close() ends every socket.
import { Pool } from "undici";
import { keepAliveTimeoutMs, requestTimeoutMs } from "./limits.js";
import { httpConnectOptions, httpOrigin } from "../common/security/https.js";

export class HttpPools {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  /** @param connectionsPerHost one socket per worker: no worker waits for another's socket. */
  constructor(private readonly connectionsPerHost: number) {}

  /** The pool for "host:port" (an "http://" or "https://" prefix is accepted and ignored). */
  get(hostPort: string): Pool {
    let pool = this.pools.get(hostPort);
    if (pool === undefined) {
      if (this.closed) throw new Error("HttpPools is closed");
      const origin = /^https?:\/\//.test(hostPort) ? hostPort : httpOrigin(hostPort);
      pool = new Pool(origin, {
        connections: this.connectionsPerHost,
        pipelining: 1,
        keepAliveTimeout: keepAliveTimeoutMs,
        headersTimeout: requestTimeoutMs,
        bodyTimeout: requestTimeoutMs,
        connect: httpConnectOptions({ timeout: requestTimeoutMs }),
      });
      this.pools.set(hostPort, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    // destroy, not close: a stopped benchmark must not wait for in-flight requests to drain.
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }
}
