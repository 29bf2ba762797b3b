// Says at warn, once, when this master has known no leader for a while (it cannot reach a majority
// of the voters, or the voters cannot agree), and at info when a leader is known again. An election
// takes well under a second; only a longer gap is worth an operator's attention, and a master that
// stays cut off says so once, not once per election round.
import type { Logger } from "../common/logger.js";

export class QuorumWatch {
  private timer: NodeJS.Timeout | undefined;
  private warnedAt: number | undefined;
  private since: number | undefined;

  constructor(
    private readonly log: Logger,
    private readonly warnAfterMs: number,
    /** The voters now, for the warning. */
    private readonly voters: () => readonly string[],
  ) {}

  /** The leader this master knows changed (null: none). */
  leaderChanged(leader: string | null): void {
    if (leader === null) {
      if (this.since !== undefined) return;
      this.since = performance.now();
      this.timer = setTimeout(() => this.warn(), this.warnAfterMs);
      this.timer.unref();
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.warnedAt !== undefined) {
      const seconds = Math.round((performance.now() - this.since!) / 1000);
      this.log.info({ leader, seconds }, "a leader is elected again");
    }
    this.since = undefined;
    this.warnedAt = undefined;
  }

  close(): void {
    clearTimeout(this.timer);
  }

  private warn(): void {
    this.warnedAt = performance.now();
    const seconds = Math.round((this.warnedAt - this.since!) / 1000);
    this.log.warn(
      { seconds, voters: this.voters() },
      "no leader: this master cannot reach a majority of the voters (writes and assigns fail until one is elected)",
    );
  }
}
