// The [guard] white list (and -whiteList): which client addresses may write, delete and
// administer. Reads stay open, as in SeaweedFS. Matching is Node's net.BlockList (IPv4, IPv6,
// CIDR of either); an empty list allows everyone, so an open cluster behaves as before.
import { BlockList, isIP } from "node:net";
import { ErrorCode, WeedError } from "../errors.js";

/** Why a white-list entry is refused; the caller names where it came from (file key or flag). */
export class WhiteListEntryError extends WeedError {
  constructor(entry: string, why: string) {
    super(ErrorCode.BAD_PARAM, `${JSON.stringify(entry)} is not an IP address or CIDR: ${why}`);
    this.name = "WhiteListEntryError";
  }
}

/** A comma list (as in security.toml and the flag) as trimmed, non-empty entries. */
export function splitCommaList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack socket reports) as IPv4. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4) return lower.slice(7);
  return lower;
}

function addEntry(list: BlockList, entry: string): void {
  const slash = entry.indexOf("/");
  const ip = normalizeAddress(slash < 0 ? entry : entry.slice(0, slash));
  const family = isIP(ip);
  if (family === 0) throw new WhiteListEntryError(entry, "bad address");
  const type = family === 4 ? "ipv4" : "ipv6";
  if (slash < 0) {
    list.addAddress(ip, type);
    return;
  }
  const bitsText = entry.slice(slash + 1);
  const bits = Number(bitsText);
  const maxBits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bitsText) || bits > maxBits)
    throw new WhiteListEntryError(entry, `prefix must be 0-${maxBits}`);
  list.addSubnet(ip, bits, type);
}

/** Throws WhiteListEntryError for the first entry that is neither an IP nor a CIDR. */
export function checkWhiteList(entries: readonly string[]): void {
  const scratch = new BlockList();
  for (const e of entries) addEntry(scratch, e);
}

export class WhiteListGuard {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const e of entries) addEntry(this.#list, e);
    this.size = entries.length;
  }

  /** True when `address` (a socket's remoteAddress) may write; an empty list allows all. */
  allows(address: string | undefined): boolean {
    if (this.size === 0) return true;
    if (address === undefined) return false;
    const ip = normalizeAddress(address);
    const family = isIP(ip);
    if (family === 0) return false;
    return this.#list.check(ip, family === 4 ? "ipv4" : "ipv6");
  }
}
