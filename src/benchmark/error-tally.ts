// Failed requests are counted, never thrown; this keeps the first few distinct reasons (with a
// count each) so the report can say why without printing a million lines.
import { errorKindsMax } from "./limits.js";

export interface ErrorCount {
  message: string;
  count: number;
}

export class ErrorTally {
  private readonly kinds = new Map<string, number>();
  private others = 0;

  constructor(private readonly kindsMax = errorKindsMax) {}

  add(message: string): void {
    const seen = this.kinds.get(message);
    if (seen !== undefined) this.kinds.set(message, seen + 1);
    else if (this.kinds.size < this.kindsMax) this.kinds.set(message, 1);
    else this.others++;
  }

  /** Distinct messages in first-seen order; the overflow, if any, as one last "other errors" row. */
  list(): ErrorCount[] {
    const rows = [...this.kinds].map(([message, count]) => ({ message, count }));
    if (this.others > 0) rows.push({ message: "(other errors)", count: this.others });
    return rows;
  }
}

/** A one-line reason for a failed request: error code and message, cause included. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const head = typeof code === "string" ? `${code}: ${err.message}` : err.message;
  const cause = err.cause;
  return cause instanceof Error ? `${head} (${cause.message})` : head;
}
