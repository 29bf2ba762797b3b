// Go-style durations for flags (SeaweedFS's flag.Duration): "15m", "90s", "1h30m", "500ms", "0".

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration such as "1h30m"; undefined when it is not one. "0" is 0. */
export function parseDurationMs(text: string): number | undefined {
  if (text === "0") return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0));
}

/** A FlagSpec check: a duration within [minMs, maxMs], or 0 when `zeroAllowed`. */
export function durationCheck(minMs: number, maxMs: number, zeroAllowed: boolean) {
  return (v: string | number | boolean): string | undefined => {
    const ms = parseDurationMs(String(v));
    if (ms === undefined) return `expected a duration such as 15m, 90s or 1h30m`;
    if (ms === 0 && zeroAllowed) return undefined;
    if (ms < minMs || ms > maxMs)
      return `must be ${zeroAllowed ? "0 (off) or " : ""}between ${minMs / 1000}s and ${maxMs / 60_000}m`;
    return undefined;
  };
}
