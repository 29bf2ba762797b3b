// Time to live in SeaweedFS's form: a count and a unit, stored as two bytes (count, unit).
// Text: "3m", "4h", "5d", "6w", "7M", "8y"; a bare number means minutes; "" means none.
import { ErrorCode, WeedError } from "./errors.js";

const UNITS = ["", "m", "h", "d", "w", "M", "y"] as const;
const UNIT_MINUTES = [0, 1, 60, 1440, 10080, 43200, 525600] as const;

export interface Ttl {
  count: number;
  /** 0 none, 1 minute, 2 hour, 3 day, 4 week, 5 month, 6 year. */
  unit: number;
}

export const NO_TTL: Ttl = Object.freeze({ count: 0, unit: 0 });

export function parseTtl(text: string): Ttl {
  if (text === "") return NO_TTL;
  const m = /^(\d{1,3})([mhdwMy]?)$/.exec(text);
  if (!m)
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `invalid ttl ${JSON.stringify(text)}: expected a count and a unit like 3m, 4h, 5d, 6w, 7M, 8y`,
    );
  const count = Number(m[1]);
  if (count > 255) throw new WeedError(ErrorCode.BAD_PARAM, `invalid ttl ${JSON.stringify(text)}: count over 255`);
  if (count === 0) return NO_TTL;
  const unit = m[2] === "" ? 1 : UNITS.indexOf(m[2] as (typeof UNITS)[number]);
  return { count, unit };
}

export function formatTtl(ttl: Ttl): string {
  if (ttl.count === 0 || ttl.unit === 0) return "";
  return `${ttl.count}${UNITS[ttl.unit] ?? ""}`;
}

/** The uint32 form used in VolumeInformationMessage.ttl: count<<8 | unit. */
export function ttlToUint32(ttl: Ttl): number {
  return ((ttl.count & 0xff) << 8) | (ttl.unit & 0xff);
}

export function ttlFromUint32(v: number): Ttl {
  return { count: (v >>> 8) & 0xff, unit: v & 0xff };
}

export function ttlMinutes(ttl: Ttl): number {
  return ttl.count * (UNIT_MINUTES[ttl.unit] ?? 0);
}
