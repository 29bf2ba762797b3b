// The pieces of a new file id, made without BigInt on the assign hot path. Keys from our
// sequencer stay below 2^53, so a double holds them exactly and Number#toString(16) formats them;
// the text is the same as src/common/fid.ts formatFid (checked by a property test).
import { randomFillSync } from "node:crypto";

/** "<vid>,<keyhex><cookie8hex>": key hex with leading zero bytes stripped (even length). */
export function formatFidNumber(volumeId: number, key: number, cookie: number): string {
  let keyHex = key.toString(16);
  if ((keyHex.length & 1) === 1) keyHex = "0" + keyHex;
  const cookieHex = (cookie >>> 0).toString(16);
  return volumeId + "," + keyHex + "00000000".slice(cookieHex.length) + cookieHex;
}

/** Random 32-bit cookies, drawn from the CSPRNG a batch at a time (fids must not be guessable). */
export class CookieSource {
  private readonly pool: Uint32Array;
  private index: number;

  constructor(batch = 1024) {
    this.pool = new Uint32Array(batch);
    this.index = batch;
  }

  next(): number {
    if (this.index === this.pool.length) {
      randomFillSync(this.pool);
      this.index = 0;
    }
    return this.pool[this.index++]!;
  }
}
