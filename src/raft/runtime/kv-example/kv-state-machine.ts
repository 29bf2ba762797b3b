// A tiny replicated key-value map: the example state machine used by the runtime's tests, the
// kv-node process and scripts/bench-raft.mjs. Commands and snapshots are small binary records:
//
//   command  = op u8 (1 put, 2 delete) | key length u16 BE | key utf8 | value (rest; put only)
//   snapshot = version u8 (1) | count u32 BE | count x (key length u32 | key utf8 | value length u32 | value)
import type { StateMachine } from "../runtime.js";

export interface KvResult {
  /** The log index the command was applied at. */
  index: number;
  /** Whether the key existed before (put: overwritten; delete: removed). */
  existed: boolean;
}

const OP_PUT = 1;
const OP_DELETE = 2;
const SNAPSHOT_VERSION = 1;
const keyBytesMax = 0xffff;

export function encodePut(key: string, value: Uint8Array): Uint8Array {
  const k = Buffer.from(key, "utf8");
  if (k.length === 0 || k.length > keyBytesMax) throw new RangeError(`key must be 1..${keyBytesMax} bytes`);
  const b = Buffer.allocUnsafe(3 + k.length + value.byteLength);
  b[0] = OP_PUT;
  b.writeUInt16BE(k.length, 1);
  k.copy(b, 3);
  b.set(value, 3 + k.length);
  return b;
}

export function encodeDelete(key: string): Uint8Array {
  const k = Buffer.from(key, "utf8");
  if (k.length === 0 || k.length > keyBytesMax) throw new RangeError(`key must be 1..${keyBytesMax} bytes`);
  const b = Buffer.allocUnsafe(3 + k.length);
  b[0] = OP_DELETE;
  b.writeUInt16BE(k.length, 1);
  k.copy(b, 3);
  return b;
}

export class KvStateMachine implements StateMachine<KvResult> {
  private readonly map = new Map<string, Uint8Array>();
  appliedIndex = 0;

  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  apply(data: Uint8Array, index: number): KvResult {
    this.appliedIndex = index;
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // A malformed command is applied as a no-op everywhere alike (apply must not throw).
    if (b.length < 3) return { index, existed: false };
    const klen = b.readUInt16BE(1);
    if (3 + klen > b.length) return { index, existed: false };
    const key = b.toString("utf8", 3, 3 + klen);
    const existed = this.map.has(key);
    if (b[0] === OP_PUT) this.map.set(key, new Uint8Array(b.subarray(3 + klen)));
    else if (b[0] === OP_DELETE) this.map.delete(key);
    return { index, existed };
  }

  snapshot(): Uint8Array {
    let bytes = 5;
    const keys: Buffer[] = [];
    for (const [k, v] of this.map) {
      const kb = Buffer.from(k, "utf8");
      keys.push(kb);
      bytes += 8 + kb.length + v.byteLength;
    }
    const out = Buffer.allocUnsafe(bytes);
    out[0] = SNAPSHOT_VERSION;
    out.writeUInt32BE(this.map.size, 1);
    let off = 5;
    let i = 0;
    for (const v of this.map.values()) {
      const kb = keys[i++] as Buffer;
      out.writeUInt32BE(kb.length, off);
      kb.copy(out, off + 4);
      off += 4 + kb.length;
      out.writeUInt32BE(v.byteLength, off);
      out.set(v, off + 4);
      off += 4 + v.byteLength;
    }
    return out;
  }

  restore(data: Uint8Array): void {
    this.map.clear();
    if (data.byteLength === 0) return; // The initial state of a new group.
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (b[0] !== SNAPSHOT_VERSION || b.length < 5) throw new Error(`kv snapshot: bad header`);
    const n = b.readUInt32BE(1);
    let off = 5;
    for (let i = 0; i < n; i++) {
      const kl = b.readUInt32BE(off);
      const key = b.toString("utf8", off + 4, off + 4 + kl);
      off += 4 + kl;
      const vl = b.readUInt32BE(off);
      this.map.set(key, new Uint8Array(b.subarray(off + 4, off + 4 + vl)));
      off += 4 + vl;
    }
    if (off !== b.length) throw new Error(`kv snapshot: ${b.length - off} trailing bytes`);
  }
}
