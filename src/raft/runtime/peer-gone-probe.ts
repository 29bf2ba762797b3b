// Is a peer's process gone? Asked after an answered stream to it broke (transport.ts): a TCP
// connect to its port that is refused means nothing listens there any more (a kill -9 closes the
// port at once); a connect that succeeds, or no answer by the deadline (a stalled or cut-off
// host), means the election timeout must decide.
import * as net from "node:net";

/**
 * Resolves true when a connect to host:port is refused within deadlineMs, false otherwise.
 *
 * The deadline is checked one turn late (setImmediate): libuv runs due timers before it delivers
 * I/O, so after an event-loop stall longer than the deadline a refusal that had already arrived
 * would lose to the timer, and a kill -9 would be left to the election timeout (350-550 ms instead
 * of ~130). A suspect for one failover of 559 ms in a bench:all run; not reproduced since.
 */
export function connectRefused(host: string, port: number, deadlineMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let settled = false;
    const settle = (refused: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(refused);
    };
    const timer = setTimeout(() => setImmediate(() => settle(false)), deadlineMs);
    sock.once("connect", () => settle(false));
    sock.once("error", (e: NodeJS.ErrnoException) => settle(e.code === "ECONNREFUSED"));
  });
}
