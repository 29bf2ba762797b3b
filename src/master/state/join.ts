// Joining a running cluster: a master started with -peers naming a member asks to be added until
// a leader has added and promoted it. Also the questions the start-up asks of the membership in
// the log (a lone voter, a voter) and the probe a leader makes of a master it is asked to add.
import { request } from "undici";
import type { Logger } from "../../common/logger.js";
import type { AdminTokenKey } from "../../common/security/admin-token.js";
import {
  joinLogEveryMs,
  joinRequestTimeoutMs,
  joinRetryBaseMs,
  joinRetryMaxMs,
  memberProbeTimeoutMs,
} from "../limits.js";
import { memberHttpAddress } from "./membership.js";
import type { RaftClusterState } from "./raft-cluster-state.js";
import { httpOrigin } from "../../common/security/https.js";

export function isSoleVoter(state: RaftClusterState, id: string): boolean {
  const voters = state.runtime.status().members.filter((m) => m.suffrage === "voter");
  return voters.length === 1 && voters[0]!.id === id;
}

export function isVoter(state: RaftClusterState, id: string): boolean {
  return state.runtime.status().members.some((m) => m.id === id && m.suffrage === "voter");
}

/** The cluster id a master reports on /cluster/raft ("" for none yet), or null when it does not answer. */
export async function probeClusterId(id: string): Promise<string | null> {
  try {
    const r = await request(`${httpOrigin(memberHttpAddress(id))}/cluster/raft`, {
      headersTimeout: memberProbeTimeoutMs,
      bodyTimeout: memberProbeTimeoutMs,
    });
    const text = await r.body.text();
    if (r.statusCode !== 200) return null;
    const v = (JSON.parse(text) as { clusterId?: unknown }).clusterId;
    return typeof v === "string" ? v : "";
  } catch {
    return null;
  }
}

export interface JoinOptions {
  self: string;
  state: RaftClusterState;
  /** Members to ask, in turn (any one forwards to the leader). */
  contacts: readonly string[];
  logger: Logger;
  /** Injected jitter source for the retry backoff. */
  random: () => number;
  signal: AbortSignal;
  /** [jwt.admin] key: /cluster/raft/add is administrative, so each request carries a fresh admin token. */
  adminKey?: AdminTokenKey | undefined;
}

/**
 * Asks the contacts to add this master until one of them has added and promoted it, or it shows
 * up as a voter anyway. Retries with capped, jittered backoff for as long as the master runs: a
 * cluster that is down at the moment is waited for, not given up on.
 */
export async function joinCluster(o: JoinOptions): Promise<void> {
  const { self, state, contacts, logger, signal } = o;
  logger.debug({ self, via: contacts }, "asking the cluster to add this master unless a leader knows it as a voter");
  let delay = joinRetryBaseMs;
  let loggedAt = -Infinity;
  // A master with a membership of its own gives the leader a moment to reach it first.
  if (state.runtime.status().members.length > 0) await sleep(state.runtime.electionTimeoutMs, signal);
  for (let attempt = 0; !signal.aborted; attempt++) {
    // A voter that hears a leader is home; a lone voter is a cluster of its own, which the
    // contacts' leader either adopts or refuses with the reason (another cluster's state).
    if (isVoter(state, self) && state.runtime.currentLeader() !== null && !isSoleVoter(state, self)) break;
    const contact = contacts[attempt % contacts.length]!;
    const problem = await askToJoin(o, contact);
    if (problem === null) return;
    // Said once, then every few seconds: a joiner waiting for its cluster is not an emergency.
    if (performance.now() - loggedAt > joinLogEveryMs && !signal.aborted) {
      loggedAt = performance.now();
      logger.warn(
        { via: contact, problem },
        "not admitted yet; retrying (a new cluster lists every master, this one included, in -peers)",
      );
    }
    await sleep(delay * (0.5 + o.random() / 2), signal);
    delay = Math.min(delay * 2, joinRetryMaxMs);
  }
  if (!signal.aborted) logger.info({ self }, "this master is a voter");
}

/** One request to `contact`: null once admitted, else what went wrong. */
async function askToJoin(o: JoinOptions, contact: string): Promise<string | null> {
  if (o.state.topologyId === "") {
    // Know which cluster's leader to let in before it adds us (raft-cluster-state.ts).
    const theirs = await probeClusterId(contact);
    if (theirs !== null && theirs !== "") o.state.expectClusterId(theirs);
  }
  try {
    const query = new URLSearchParams({ id: o.self, clusterId: o.state.topologyId });
    const headers = o.adminKey === undefined ? {} : { authorization: await o.adminKey.authorization() };
    const r = await request(`${httpOrigin(memberHttpAddress(contact))}/cluster/raft/add?${query.toString()}`, {
      method: "POST",
      headers,
      headersTimeout: joinRequestTimeoutMs,
      bodyTimeout: joinRequestTimeoutMs,
      signal: o.signal,
    });
    const text = await r.body.text();
    if (r.statusCode === 200) {
      o.logger.info({ via: contact, answer: JSON.parse(text) as unknown }, "joined the cluster as a voter");
      return null;
    }
    return `${r.statusCode} ${text.slice(0, 300)}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
