// The -list file: one written fid per line, as SeaweedFS writes it, so lists are interchangeable
// with `weed benchmark` (lines that are empty or start with '#' are skipped when reading).
import { open, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ErrorCode, WeedError } from "../common/errors.js";
import { listFileBytesMax, listFlushBytes } from "./limits.js";

/** Appends fids in chunks; writes are chained so only one is in flight and lines never interleave. */
export class FidListWriter {
  private pending = "";
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;
  private written = 0;

  private constructor(private readonly fh: FileHandle) {}

  /** Creates (truncates) the file. */
  static async create(path: string): Promise<FidListWriter> {
    const fh = await open(path, "w", 0o644);
    return new FidListWriter(fh);
  }

  get count(): number {
    return this.written;
  }

  add(fid: string): void {
    this.pending += fid + "\n";
    this.written++;
    if (this.pending.length >= listFlushBytes) this.flushPending();
  }

  private flushPending(): void {
    const chunk = this.pending;
    this.pending = "";
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await this.fh.write(chunk);
      } catch (err) {
        this.failure = err;
      }
    });
  }

  /** Writes what is left and closes the file; the first write error, if any, is thrown here. */
  async close(): Promise<void> {
    if (this.pending.length > 0) this.flushPending();
    await this.chain;
    await this.fh.close();
    if (this.failure !== undefined) {
      throw new WeedError(ErrorCode.IO, `writing the fid list failed`, { cause: this.failure });
    }
  }
}

export async function readFidList(path: string): Promise<string[]> {
  const st = await stat(path);
  if (st.size > listFileBytesMax) {
    throw new WeedError(
      ErrorCode.TOO_LARGE,
      `fid list ${path} is ${st.size} bytes, over the ${listFileBytesMax} byte limit`,
    );
  }
  const fh = await open(path, "r");
  let text: string;
  try {
    text = await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
  const fids: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.length > 0 && line[0] !== "#") fids.push(line);
  }
  return fids;
}
