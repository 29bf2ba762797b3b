// The master's replicated state machine: cluster (topology) id, max volume id and the file-key
// ceiling. Every mutation is one committed Raft entry, applied in the same order on every master,
// so apply() must be deterministic: values it needs (the new cluster id) travel in the command.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { KeyBlock } from "./cluster-state.js";
import { fileKeyMax, volumeIdMax } from "../limits.js";

export interface MasterStateSnapshot {
  topologyId: string;
  maxVolumeId: number;
  fileKeyCeiling: number;
}

export type MasterCommand =
  | { op: "topologyId"; id: string }
  | { op: "nextVolumeId" }
  | { op: "raiseMaxVolumeId"; id: number }
  | { op: "reserveKeys"; count: number; floor: number };

/** What apply() answers; an error travels as a value so a replica never stops on it. */
export type MasterApplyResult =
  { ok: true; topologyId?: string; volumeId?: number; block?: KeyBlock } | { ok: false; error: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: MasterCommand): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

function decodeCommand(data: Uint8Array): MasterCommand {
  const c = JSON.parse(decoder.decode(data)) as MasterCommand;
  if (typeof c !== "object" || c === null || typeof c.op !== "string") throw new Error("not a master command");
  return c;
}

export class MasterStateMachine {
  state: MasterStateSnapshot = { topologyId: "", maxVolumeId: 0, fileKeyCeiling: 0 };

  apply(data: Uint8Array): MasterApplyResult {
    let c: MasterCommand;
    try {
      c = decodeCommand(data);
    } catch (err) {
      return { ok: false, error: `undecodable master command: ${(err as Error).message}` };
    }
    const s = this.state;
    switch (c.op) {
      case "topologyId":
        // The first committed id wins; later proposals (from a racing new leader) learn it.
        if (s.topologyId === "") s.topologyId = c.id;
        return { ok: true, topologyId: s.topologyId };
      case "nextVolumeId": {
        if (s.maxVolumeId >= volumeIdMax)
          return { ok: false, error: `volume ids exhausted: max volume id is ${s.maxVolumeId}` };
        s.maxVolumeId += 1;
        return { ok: true, volumeId: s.maxVolumeId };
      }
      case "raiseMaxVolumeId":
        if (Number.isSafeInteger(c.id) && c.id > s.maxVolumeId && c.id <= volumeIdMax) s.maxVolumeId = c.id;
        return { ok: true, volumeId: s.maxVolumeId };
      case "reserveKeys": {
        if (!Number.isSafeInteger(c.count) || c.count <= 0 || !Number.isSafeInteger(c.floor) || c.floor < 0) {
          return { ok: false, error: `bad key reservation ${JSON.stringify(c)}` };
        }
        const first = Math.max(s.fileKeyCeiling, c.floor) + 1;
        const last = first + c.count - 1;
        if (last > fileKeyMax) return { ok: false, error: `file keys exhausted: ceiling ${s.fileKeyCeiling}` };
        s.fileKeyCeiling = last;
        return { ok: true, block: { first, end: last + 1 } };
      }
      default:
        return { ok: false, error: `unknown master command ${JSON.stringify((c as { op: unknown }).op)}` };
    }
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.state));
  }

  restore(data: Uint8Array): void {
    if (data.length === 0) {
      this.state = { topologyId: "", maxVolumeId: 0, fileKeyCeiling: 0 };
      return;
    }
    const s = JSON.parse(decoder.decode(data)) as Partial<MasterStateSnapshot>;
    if (
      typeof s.topologyId !== "string" ||
      !Number.isSafeInteger(s.maxVolumeId) ||
      !Number.isSafeInteger(s.fileKeyCeiling)
    ) {
      throw new WeedError(ErrorCode.CORRUPT, `master snapshot is malformed: ${decoder.decode(data).slice(0, 200)}`);
    }
    this.state = { topologyId: s.topologyId, maxVolumeId: s.maxVolumeId!, fileKeyCeiling: s.fileKeyCeiling! };
  }
}
