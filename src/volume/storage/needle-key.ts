// Needle keys are u64 at the API (bigint) but two u32 halves everywhere inside storage, so the
// hot paths (map lookups, .idx replay) never touch BigInt. Split once at the edge, join on the way out.
import { ErrorCode, WeedError } from "../../common/errors.js";

const keyMax = (1n << 64n) - 1n;

export function checkKey(key: bigint): void {
  if (typeof key !== "bigint" || key < 0n || key > keyMax) {
    throw new WeedError(ErrorCode.BAD_REQUEST, `needle key ${String(key)} is not a uint64`);
  }
}

export function keyHi(key: bigint): number {
  return Number(key >> 32n);
}

export function keyLo(key: bigint): number {
  return Number(BigInt.asUintN(32, key));
}

export function joinKey(hi: number, lo: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Hex of the key as SeaweedFS prints needle ids in messages (no leading zeros). */
export function keyHex(hi: number, lo: number): string {
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, "0");
}

/** Compares two split keys: negative, 0 or positive. */
export function compareKeys(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return aHi !== bHi ? aHi - bHi : aLo - bLo;
}
