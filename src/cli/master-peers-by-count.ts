// -peers.count and -peers.pattern: a master's -peers derived from how many masters there are and
// how they are named, for a Kubernetes StatefulSet whose pods (weed-master-0 .. weed-master-N-1
// behind a headless service) all run one command line. GooseFS's `master.replicas: 3` story.
//
// Only ordinal 0 ever starts a new cluster, alone; every other master asks the others to add it
// (README "Adding and removing masters online"). Pods started together therefore form one
// cluster, and raising the count (1 -> 3, 3 -> 5) adds the new pods to the running cluster:
// a rule "the first N bootstrap together" would let pods 1 and 2 of a grown 1-master cluster
// elect a second leader between themselves. Ordinal 0 asks the others first, and joins when a
// cluster already runs (its volume was lost). Like -peers, this is read on the first start only.
import { parseServerAddress } from "../common/server-address.js";
import { WeedError } from "../common/errors.js";
import { int, str, UsageError, type FlagSpec, type FlagValues } from "./flags.js";
import { parseAddressList } from "./common-flags.js";
import type { Logger } from "../common/logger.js";
import { probeClusterId } from "../master/state/join.js";

/**
 * The most masters -peers.count accepts: every write waits for a majority, and past 7 voters
 * (etcd's own advice) each one adds commit latency without a useful gain in tolerated failures.
 */
export const peersCountMax = 7;

/** Where the pod's ordinal goes in -peers.pattern. */
const ORDINAL = "{i}";

export const peersCountFlags: readonly FlagSpec[] = [
  {
    name: "peers.count",
    type: "int",
    default: 0,
    usage:
      `how many masters the cluster has (odd, 1-${peersCountMax}), named by -peers.pattern; ` +
      "ordinal 0 starts the cluster, the others join it; 0 = use -peers",
    check: (v) =>
      typeof v === "number" && v >= 0 && v <= peersCountMax ? undefined : `must be 0 (off) or 1-${peersCountMax}`,
  },
  {
    name: "peers.pattern",
    type: "string",
    default: "",
    usage: `each master's host:port with ${ORDINAL} for its ordinal, e.g. weed-master-${ORDINAL}.weed-master:9333`,
  },
];

/** The masters' names, ordinal 0 first. */
export function namesFromPattern(flag: string, pattern: string, count: number): string[] {
  if (pattern.split(ORDINAL).length !== 2)
    throw new UsageError(`flag -${flag}: ${JSON.stringify(pattern)} must hold ${ORDINAL} exactly once`);
  const names = Array.from({ length: count }, (_, i) => pattern.replace(ORDINAL, String(i)));
  for (const n of names) {
    try {
      parseServerAddress(n);
    } catch (err) {
      if (err instanceof WeedError) throw new UsageError(`flag -${flag}: ${err.message}`);
      throw err;
    }
  }
  return names;
}

/**
 * The -peers list a master with this -ip/-port would be given by hand: [itself] for ordinal 0
 * (a new cluster of one, which the others join), every other master for the rest.
 */
export function peersByCount(prefix: string, count: number, pattern: string, ip: string, port: number): string[] {
  if (count % 2 === 0)
    throw new UsageError(
      `flag -${prefix}peers.count: ${count} masters: an even number tolerates no more failures than ` +
        `${count - 1} (a majority of ${count} is ${count / 2 + 1}); use an odd count: 1, 3, 5 or 7`,
    );
  const names = namesFromPattern(`${prefix}peers.pattern`, pattern, count);
  const ordinal = names.findIndex((n) => {
    const a = parseServerAddress(n);
    return a.host === ip && a.port === port;
  });
  if (ordinal < 0)
    throw new UsageError(
      `flags -${prefix}ip/-${prefix}port: ${ip}:${port} is not one of the ${count} masters ` +
        `-${prefix}peers.pattern names (${names.join(",")}); give each its stable name, e.g. -ip=$(POD_NAME).<service>`,
    );
  return ordinal === 0 ? [names[0]!] : names.filter((_, i) => i !== ordinal);
}

/** -peers as written, or derived from -peers.count when that is set (a command without it: -peers). */
export function peerListFromFlags(v: FlagValues, prefix: string, ip: string, port: number): string[] {
  const listed = parseAddressList(`${prefix}peers`, str(v, `${prefix}peers`));
  if (v[`${prefix}peers.count`] === undefined) return listed;
  const count = int(v, `${prefix}peers.count`);
  if (count === 0) {
    if (str(v, `${prefix}peers.pattern`) !== "")
      throw new UsageError(`flag -${prefix}peers.pattern needs -${prefix}peers.count`);
    return listed;
  }
  if (listed.length > 0) throw new UsageError(`flags -${prefix}peers and -${prefix}peers.count: give one or the other`);
  return peersByCount(prefix, count, str(v, `${prefix}peers.pattern`), ip, port);
}

/** The masters ordinal 0 asks before it starts a cluster: none unless -peers.count > 1 names it ordinal 0. */
export function ordinalZeroOthers(v: FlagValues, prefix: string, ip: string, port: number): string[] {
  if (v[`${prefix}peers.count`] === undefined) return [];
  const count = int(v, `${prefix}peers.count`);
  if (count <= 1) return [];
  const names = namesFromPattern(`${prefix}peers.pattern`, str(v, `${prefix}peers.pattern`), count);
  const first = parseServerAddress(names[0]!);
  return first.host === ip && first.port === port ? names.slice(1) : [];
}

/**
 * Ordinal 0 starts the cluster unless one runs already: its volume was lost or replaced while the
 * others ran, and a cluster of its own would stand beside theirs. It asks the others first and,
 * when any answers with a cluster id, joins through those as every other ordinal does. At a first
 * start the others answer with none (they are waiting to join) or not at all.
 */
export async function joinRunningCluster<C extends { ip: string; port: number; self?: string }>(
  config: C,
  v: FlagValues,
  logger: Logger,
  prefix = "",
): Promise<C & { peers?: readonly string[]; join?: readonly string[] }> {
  const others = ordinalZeroOthers(v, prefix, config.ip, config.port);
  if (others.length === 0) return config;
  const ids = await Promise.all(others.map((o) => probeClusterId(o)));
  const members = others.filter((_, i) => ids[i] !== null && ids[i] !== "");
  if (members.length === 0) return config;
  logger.warn({ members }, "ordinal 0: a cluster is already running; joining it instead of starting one");
  const self = `${config.ip}:${config.port}`;
  return { ...config, self, peers: [self], join: members };
}
