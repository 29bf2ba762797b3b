// Sizes and times as a person reads them on a status page: "1.5 GiB", "12 s ago".

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Binary units, as -volumeSizeLimitMB counts them (MB there is 1024 * 1024 bytes, as in SeaweedFS). */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "?";
  let v = bytes;
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[unit]!}`;
}

/** "37%" of `whole`; "" when there is no whole to compare with (a limit not known yet). */
export function percentOf(part: number, whole: number): string {
  if (!(whole > 0)) return "";
  const p = (part / whole) * 100;
  return `${p > 0 && p < 1 ? "<1" : Math.round(p)}%`;
}

/** "850 ms", "12 s", "3 min 20 s", "2 h 5 min". */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  return min % 60 === 0 ? `${min / 60} h` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
