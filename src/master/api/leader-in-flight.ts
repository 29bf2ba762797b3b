// Requests a follower has passed to the leader and not yet had answered, by leader. When the
// leader changes, those still unanswered after a short grace are failed: the old leader may be gone
// or cut off, and without this each would wait out its whole timeout (30 s) although the new
// leader is known within a second. The grace lets a live old leader answer what it was doing when
// it handed over or removed itself. They fail as "outcome unknown": the old leader may have acted
// on them before it went quiet.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { leaderChangeGraceMs, retryAfterSec } from "../limits.js";

export interface InFlightTicket {
  /** Aborted, with a WeedError as its reason, when the leader it went to is forgotten. */
  readonly signal: AbortSignal;
  /** The request was answered (or failed on its own): stop tracking it. */
  release(): void;
}

export class LeaderInFlight {
  private readonly byLeader = new Map<string, Set<AbortController>>();

  track(leader: string): InFlightTicket {
    let set = this.byLeader.get(leader);
    if (set === undefined) {
      set = new Set();
      this.byLeader.set(leader, set);
    }
    const controller = new AbortController();
    set.add(controller);
    const owner = set;
    return {
      signal: controller.signal,
      release: () => {
        owner.delete(controller);
        if (owner.size === 0 && this.byLeader.get(leader) === owner) this.byLeader.delete(leader);
      },
    };
  }

  /**
   * Fails every request to `leader` still unanswered after `graceMs`, then calls `after` (to
   * destroy the connections: a client may not act on an abort while its connect is in progress).
   */
  abandon(leader: string, after?: () => void, graceMs = leaderChangeGraceMs): void {
    const set = this.byLeader.get(leader) ?? new Set();
    this.byLeader.delete(leader);
    const timer = setTimeout(() => {
      const reason = leaderChangedError(leader);
      for (const c of set) c.abort(reason);
      after?.();
    }, graceMs);
    timer.unref();
  }
}

export function leaderChangedError(leader: string): WeedError {
  return new WeedError(
    ErrorCode.UNAVAILABLE,
    `the leader ${leader} stepped down or went silent while the request was with it: outcome unknown, ` +
      "check before retrying a write",
    { retryAfterSec },
  );
}
