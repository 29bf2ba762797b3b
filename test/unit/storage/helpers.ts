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

/** Needle data whose length varies with i (100-3099 bytes), so records are not all one length. */
export function variedBlob(i: number): Buffer {
  return blob(i, 100 + ((i * 977) % 3000));
}

/** XORs the byte at `at` of `file` with `xor` (0xff: every bit flipped). */
export function flipByte(file: string, at: number, xor = 0xff): void {
  const fd = fs.openSync(file, "r+");
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = (b[0] ?? 0) ^ xor;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

/**
 * A closed volume in `dir` holding needles 1..n (data `dataOf(i)`, named `file-i.txt` when
 * `named`); datEnds[i] is the end of needle i's record (datEnds[0]: the superblock).
 */
export async function volumeWith(
  dir: string,
  n: number,
  dataOf: (i: number) => Buffer,
  named = false,
): Promise<{ datPath: string; idxPath: string; datEnds: number[] }> {
  const v = await createVolume(dir);
  const datEnds = [fileSize(v.datPath)];
  for (let i = 1; i <= n; i++) {
    const meta = named ? { name: `file-${i}.txt`, mime: "text/plain" } : {};
    await v.write({ key: BigInt(i), cookie: i, data: dataOf(i), ...meta });
    datEnds.push(fileSize(v.datPath));
  }
  await v.close();
  return { datPath: v.datPath, idxPath: v.idxPath, datEnds };
}
