// Shared helpers for the storage tests: volumes on the real disk, error codes.
import fs from "node:fs";
import { WeedError } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { NO_TTL, type Ttl } from "../../../src/common/ttl.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { Volume, type LoadReport } from "../../../src/volume/storage/volume.js";

export async function createVolume(dir: string, id = 1, collection = "", ttl: Ttl = NO_TTL): Promise<Volume> {
  const v = new Volume({ dir, id, collection, logger: silentLogger() });
  await v.create({ replicaPlacement: parseReplicaPlacement("000"), ttl });
  return v;
}

export async function loadVolume(dir: string, id = 1, collection = ""): Promise<Volume> {
  return (await loadVolumeWithReport(dir, id, collection)).volume;
}

export async function loadVolumeWithReport(
  dir: string,
  id = 1,
  collection = "",
): Promise<{ volume: Volume; report: LoadReport }> {
  const volume = new Volume({ dir, id, collection, logger: silentLogger() });
  const report = await volume.load();
  return { volume, report };
}

/** The WeedError code a sync call throws, or undefined. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof WeedError ? err.code : `not a WeedError: ${String(err)}`;
  }
  return undefined;
}

/** The WeedError code a promise rejects with, or undefined. */
export async function asyncCodeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof WeedError ? err.code : `not a WeedError: ${String(err)}`;
  }
  return undefined;
}

export function blob(i: number, bytes = 100): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 31 + j) & 0xff;
  return b;
}

export function fileSize(file: string): number {
  return fs.statSync(file).size;
}
