// The "needs check" flag of one volume: a replicated write or delete failed after it reached some
// replica, so the replicas may differ until volume.check.disk (or the master's repair) compared
// them. Kept in `<base>.chk` beside the volume's files so that a restart does not forget it
// (FORMAT.md, "Needs-check marker").
//
// The generation grows with every failure, and across restarts too (it is at least the wall clock
// in ms when marked): a check reads it when it starts and clears the flag only if it is unchanged,
// so a failure that came during the check keeps the flag for the next one.
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../../common/logger.js";
import type { CheckState } from "./store-api.js";

/** The marker's content is one decimal number and a newline; more than this is not ours. */
const markerBytesMax = 64;

export class NeedsCheckFlag {
  readonly path: string;
  readonly #log: Logger;
  readonly #clockMs: () => number;
  #needsCheck = false;
  #generation = 0;
  /** Writes of the marker, one after another; each writes the state as it is when it runs. */
  #persisting: Promise<void> = Promise.resolve();

  constructor(markerPath: string, log: Logger, clockMs: () => number) {
    this.path = markerPath;
    this.#log = log;
    this.#clockMs = clockMs;
  }

  get state(): CheckState {
    return { needsCheck: this.#needsCheck, generation: this.#generation };
  }

  /** Reads the marker at load. One that does not parse still means "needs check" (a torn write). */
  load(): void {
    let text: string;
    try {
      const fd = fs.openSync(this.path, "r");
      try {
        const buf = Buffer.alloc(markerBytesMax);
        text = buf.subarray(0, fs.readSync(fd, buf, 0, markerBytesMax, 0)).toString("utf8");
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = /^(\d{1,16})\n?$/.exec(text);
    this.#needsCheck = true;
    this.#generation = parsed === null ? Math.floor(this.#clockMs()) : Number(parsed[1]);
    this.#log.warn({ marker: this.path, generation: this.#generation }, "volume needs a check (marker found)");
  }

  /** A fresh volume: a marker left by an earlier volume of this id (a crash during delete) goes. */
  discardStale(): void {
    try {
      fs.unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** Sets the flag with a new generation; returns true when the flag was clear before. */
  mark(): boolean {
    const was = this.#needsCheck;
    this.#needsCheck = true;
    this.#generation = Math.max(this.#generation + 1, Math.floor(this.#clockMs()));
    this.#persist();
    return !was;
  }

  /** Clears the flag if `generation` is still the current one; returns true when it did. */
  clear(generation: number): boolean {
    if (!this.#needsCheck || generation !== this.#generation) return false;
    this.#needsCheck = false;
    this.#persist();
    return true;
  }

  /** Resolves once the marker on disk says what the flag says (tests, close, destroy). */
  settled(): Promise<void> {
    return this.#persisting;
  }

  #persist(): void {
    this.#persisting = this.#persisting.then(() =>
      this.#write().catch((err: unknown) => {
        // The flag still holds in memory and goes out in heartbeats; only a restart would lose it.
        this.#log.error({ err, marker: this.path }, "cannot write the needs-check marker");
      }),
    );
  }

  async #write(): Promise<void> {
    if (!this.#needsCheck) {
      await fs.promises.rm(this.path, { force: true });
    } else {
      const fh = await fs.promises.open(this.path, "w");
      try {
        await fh.writeFile(`${this.#generation}\n`);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await syncDir(path.dirname(this.path));
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
