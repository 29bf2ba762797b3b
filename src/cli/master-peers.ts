// -peers in its two forms:
//  - it names this master too: every master of a new cluster, started all at once (3 or 5). A master
//    finds itself in the list whether the list says localhost, 127.0.0.1 or its -ip, and from then
//    on uses the list's spelling as its Raft id, so every master names every other the same way.
//  - it does not name this master: one or more members of a running cluster, which this master asks
//    to add it (SeaweedFS's "add masters one by one" form). Its id is then -ip:-port.
// Either list matters only on the first start: afterwards the membership lives in the Raft log.
import { parseServerAddress } from "../common/server-address.js";
import { UsageError } from "./flags.js";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export interface MasterIdentity {
  self: string;
  /** The voters of a new cluster, self included, in the list's spelling ([self] when joining). */
  peers: string[];
  /** Members of a running cluster to ask for admission; empty unless -peers leaves this master out. */
  join: string[];
}

function isSelf(host: string, port: number, ip: string, myPort: number): boolean {
  if (port !== myPort) return false;
  return host === ip || (LOOPBACK_NAMES.has(host) && (LOOPBACK_NAMES.has(ip) || ip === "0.0.0.0"));
}

export function masterIdentity(flag: string, peerList: readonly string[], ip: string, port: number): MasterIdentity {
  const fallback = `${ip}:${port}`;
  if (peerList.length === 0) return { self: fallback, peers: [fallback], join: [] };
  if (new Set(peerList).size !== peerList.length)
    throw new UsageError(`flag -${flag}: ${peerList.join(",")} names a master twice`);
  const mine = peerList.filter((p) => {
    const a = parseServerAddress(p);
    return isSelf(a.host, a.port, ip, port);
  });
  if (mine.length > 1)
    throw new UsageError(`flag -${flag}: ${mine.join(" and ")} both look like this master (${fallback})`);
  const self = mine[0];
  if (self === undefined) return { self: fallback, peers: [fallback], join: [...peerList] };
  const peers = [...peerList];
  if (peers.length % 2 === 0) {
    throw new UsageError(
      `flag -${flag}: ${peers.length} masters (${peers.join(",")}): ` +
        "an even number tolerates no more failures than one fewer; use 3 or 5",
    );
  }
  return { self, peers, join: [] };
}
