// One flipped byte anywhere in a volume's records, with the .idx intact, lost, or missing its last
// entries (issue 9 items 2 and 8b), over many positions and values (fast-check, fixed seed):
// - no healthy needle is lost: every needle whose newest record was not hit reads back whole;
// - the damaged needle is never answered with bytes it did not have (nor an older version), and a
//   flip in a checked field (Size, DataSize, data, CRC, a length, UTF-8) is reported and not served;
// - .dat only ever shrinks, and what was cut sits in a quarantine file;
// - the repaired volume takes a new write and loads again the same.
import { isUtf8 } from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { idxEntryBytes } from "../../../src/volume/storage/idx.js";
import { needleHeaderBytes } from "../../../src/volume/storage/needle.js";
import type { NeedleInput, NeedleRecord } from "../../../src/volume/storage/store-api.js";
import type { LoadReport, Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { blob, createVolume, loadVolumeWithReport } from "./helpers.js";

/** What the template volume holds, in write order: puts, an overwrite of 1 and a delete of 4. */
const ops: ({ put: NeedleInput } | { del: number })[] = [
  { put: { key: 1n, cookie: 11, data: blob(1, 300), name: "a.txt", mime: "text/plain", lastModified: 1 } },
  { put: { key: 2n, cookie: 12, data: Buffer.alloc(0), name: "empty" } },
  { put: { key: 3n, cookie: 13, data: blob(3, 1000), pairs: { A: "b", Cc: "dd" }, ttl: { count: 3, unit: 3 } } },
  { put: { key: 4n, cookie: 14, data: blob(4, 50), gzipped: true } },
  { put: { key: 1n, cookie: 11, data: blob(9, 120), name: "a2.txt", mime: "text/plain" } },
  { put: { key: 5n, cookie: 15, data: blob(5, 700), name: "ünï.bin" } },
  { del: 4 },
  { put: { key: 6n, cookie: 16, data: blob(6, 64), mime: "image/png" } },
  { put: { key: 7n, cookie: 17, data: blob(7, 2000), chunkManifest: true } },
  { put: { key: 8n, cookie: 18, data: blob(8, 10), name: "last" } },
];
const cookieOf = (key: number): number => 10 + key;
const keys = [1, 2, 3, 4, 5, 6, 7, 8];

/** One record of the template: where it is, whose it is, and which field each of its bytes belongs to. */
interface RecordInfo {
  at: number;
  len: number;
  key: number;
  fields: string[];
}

let tmp: TempDir;
let datTemplate = Buffer.alloc(0);
let idxTemplate = Buffer.alloc(0);
let records: RecordInfo[] = [];
/** Each key's content as read back from the undamaged template; undefined when deleted. */
const expected = new Map<number, NeedleRecord | undefined>();
/** The data of each key's last put (a damaged tombstone may bring it back: a delete lost is not wrong bytes). */
const lastPut = new Map<number, Buffer>();
let runNo = 0;

beforeAll(async () => {
  tmp = await tempDir("weed-damage-prop-");
  const dir = path.join(tmp.dir, "template");
  fs.mkdirSync(dir);
  const v = await createVolume(dir);
  let at = fs.statSync(v.datPath).size;
  for (const op of ops) {
    if ("put" in op) await v.write(op.put);
    else await v.delete(BigInt(op.del), cookieOf(op.del));
    const end = fs.statSync(v.datPath).size;
    const key = "put" in op ? Number(op.put.key) : op.del;
    records.push({ at, len: end - at, key, fields: [] });
    if ("put" in op) lastPut.set(key, op.put.data);
    at = end;
  }
  for (const k of keys) expected.set(k, k === 4 ? undefined : { ...v.read(BigInt(k), cookieOf(k)) });
  await v.close();
  datTemplate = fs.readFileSync(v.datPath);
  idxTemplate = fs.readFileSync(v.idxPath);
  records = records.map((r) => ({ ...r, fields: fieldMap(datTemplate.subarray(r.at, r.at + r.len)) }));
});

afterAll(async () => {
  await tmp.remove();
});

/** The field of every byte of a v3 record (FORMAT.md "Needle record"). */
function fieldMap(rec: Buffer): string[] {
  const f: string[] = [];
  const put = (name: string, n: number): void => {
    for (let i = 0; i < n; i++) f.push(name);
  };
  put("cookie", 4);
  put("key", 8);
  put("size", 4);
  const size = rec.readUInt32BE(12);
  if (size > 0) bodyFields(rec, put);
  put("crc", 4);
  put("appendAtNs", 8);
  put("padding", rec.length - f.length);
  return f;
}

function bodyFields(rec: Buffer, put: (name: string, n: number) => void): void {
  const dataSize = rec.readUInt32BE(16);
  put("dataSize", 4);
  put("data", dataSize);
  let p = 20 + dataSize;
  const flags = rec[p] ?? 0;
  put("flags", 1);
  p++;
  for (const [bit, name] of [
    [0x02, "name"],
    [0x04, "mime"],
  ] as const) {
    if ((flags & bit) === 0) continue;
    const n = rec[p] ?? 0;
    put(`${name}Size`, 1);
    put(name, n);
    p += 1 + n;
  }
  if ((flags & 0x08) !== 0) put("lastModified", 5);
  if ((flags & 0x10) !== 0) put("ttl", 2);
  if ((flags & 0x20) !== 0) {
    put("pairsSize", 2);
    put("pairs", rec.readUInt16BE(p + ((flags & 0x08) !== 0 ? 5 : 0) + ((flags & 0x10) !== 0 ? 2 : 0)));
  }
}

/** Fields whose single-byte flips the checks always catch (CRC, lengths that no longer add up). */
const checkedFields = new Set(["size", "dataSize", "data", "crc", "nameSize", "mimeSize", "pairsSize"]);

type IdxMode = { kind: "intact" } | { kind: "lost" } | { kind: "tail"; entries: number };

const idxModeArb: fc.Arbitrary<IdxMode> = fc.oneof(
  fc.constant<IdxMode>({ kind: "intact" }),
  fc.constant<IdxMode>({ kind: "lost" }),
  fc.integer({ min: 1, max: 5 }).map<IdxMode>((entries) => ({ kind: "tail", entries })),
);

function codeOfRead(v: Volume, key: number): { code: string } | { n: NeedleRecord } {
  try {
    return { n: v.read(BigInt(key), cookieOf(key)) };
  } catch (err) {
    if (err instanceof WeedError) return { code: err.code };
    throw err;
  }
}

/** A read's answer as text: its error code, or its content (data as hex). */
function show(got: { code: string } | { n: NeedleRecord }): string {
  if ("code" in got) return got.code;
  const n = got.n;
  const meta = [n.name, n.mime, n.lastModified, n.ttl, n.pairs, n.gzipped, n.chunkManifest === true, n.crc];
  return `${n.data.toString("hex")} ${JSON.stringify(meta)}`;
}

function sameContent(a: NeedleRecord, b: NeedleRecord): boolean {
  return show({ n: a }) === show({ n: b });
}

/** Writes the flipped template into a fresh directory and loses index entries as `mode` says. */
function prepare(mode: IdxMode, pos: number, xor: number): { dir: string; dat: Buffer } {
  const dir = path.join(tmp.dir, `run-${runNo++}`);
  fs.mkdirSync(dir);
  const dat = Buffer.from(datTemplate);
  dat[pos] = (dat[pos] ?? 0) ^ xor;
  fs.writeFileSync(path.join(dir, "1.dat"), dat);
  if (mode.kind === "intact") fs.writeFileSync(path.join(dir, "1.idx"), idxTemplate);
  if (mode.kind === "tail") {
    fs.writeFileSync(
      path.join(dir, "1.idx"),
      idxTemplate.subarray(0, idxTemplate.length - mode.entries * idxEntryBytes),
    );
  }
  return { dir, dat };
}

/** .dat only shrinks, never changes in place, and what was cut is in a quarantine file. */
function expectCutBytesKept(dir: string, before: Buffer, report: LoadReport): void {
  const after = fs.readFileSync(path.join(dir, "1.dat"));
  expect(after.equals(before.subarray(0, after.length))).toBe(true);
  expect(report.datBytesTruncated).toBe(before.length - after.length);
  if (after.length === before.length) return;
  const copy = report.quarantineFiles.find((f) => path.basename(f) === `1.dat.quarantine-${after.length}`);
  expect(copy, "quarantine file of the cut").toBeDefined();
  expect(fs.readFileSync(copy as string).equals(before.subarray(after.length))).toBe(true);
}

/** The key a flipped key byte turns the hit record into, if it is one of ours (see expectNeedles). */
function flippedKey(hit: RecordInfo | undefined, pos: number, xor: number): number | undefined {
  if (hit === undefined || hit.fields[pos - hit.at] !== "key") return undefined;
  const k = datTemplate.readBigUInt64BE(hit.at + 4) ^ (BigInt(xor) << BigInt(8 * (hit.at + 11 - pos)));
  return k <= 8n ? Number(k) : undefined;
}

function expectNeedles(v: Volume, report: LoadReport, mode: IdxMode, pos: number, xor: number): void {
  const hit = records.find((r) => pos >= r.at && pos < r.at + r.len);
  const newest = (k: number): RecordInfo | undefined => records.filter((r) => r.key === k).at(-1);
  // Without the .idx, a record whose key byte was flipped into another key of ours is indexed
  // under that key; if it comes after that needle's own record it wins (FORMAT.md "Recovery").
  const shadowed = mode.kind === "intact" ? undefined : flippedKey(hit, pos, xor);
  for (const k of keys) {
    const got = codeOfRead(v, k);
    const want = expected.get(k);
    if (newest(k) !== hit) {
      if (k === shadowed) continue;
      if (want === undefined) expect(got).toEqual({ code: ErrorCode.NOT_FOUND });
      else expect("n" in got && sameContent(got.n, want), `healthy needle ${k}: ${show(got)}`).toBe(true);
      continue;
    }
    expectDamaged(k, got, report, { mode, hit: hit as RecordInfo, pos, xor });
  }
}

interface Flip {
  mode: IdxMode;
  hit: RecordInfo;
  pos: number;
  xor: number;
}

function expectDamaged(k: number, got: { code: string } | { n: NeedleRecord }, report: LoadReport, flip: Flip): void {
  const { hit, pos, xor } = flip;
  const want = expected.get(k);
  const field = hit.fields[pos - hit.at] ?? "";
  if ("n" in got) {
    // Served: the data is what was written last (the CRC covers it), never an older version. But
    // without the .idx nothing says the newest record's flipped key was this needle's (FORMAT.md).
    const data = want === undefined ? lastPut.get(k) : want.data;
    const olderAllowed = field === "key" && flip.mode.kind !== "intact";
    const ok = got.n.data.equals(data as Buffer) || (olderAllowed && anyPutOf(k, got.n.data));
    expect(ok, `needle ${k} served with other data`).toBe(true);
  }
  if (!mustBeCaught(field, hit, pos, xor)) return;
  expect("code" in got, `needle ${k}: a flip in its ${field} was served`).toBe(true);
  const reported =
    ("code" in got && got.code === ErrorCode.CORRUPT) || report.damagedRecords > 0 || report.datBytesTruncated > 0;
  expect(reported, `needle ${k}: a flip in its ${field} was not reported`).toBe(true);
}

function anyPutOf(k: number, data: Buffer): boolean {
  return ops.some((op) => "put" in op && op.put.key === BigInt(k) && op.put.data.equals(data));
}

/** Only puts: a tombstone the .idx already applied is never read, so its damage need not show. */
function mustBeCaught(field: string, hit: RecordInfo, pos: number, xor: number): boolean {
  if (!hit.fields.includes("dataSize")) return false;
  if (checkedFields.has(field)) return true;
  if (field !== "name" && field !== "mime" && field !== "pairs") return false;
  const first = hit.fields.indexOf(field);
  const text = Buffer.from(datTemplate.subarray(hit.at + first, hit.at + hit.fields.lastIndexOf(field) + 1));
  text[pos - hit.at - first] = (text[pos - hit.at - first] ?? 0) ^ xor;
  return !isUtf8(text);
}

/** After the repair, the volume takes a write and loads again with the same answers. */
async function expectWritableAndStable(dir: string, v: Volume): Promise<void> {
  const before = keys.map((k) => show(codeOfRead(v, k)));
  await v.write({ key: 99n, cookie: 99, data: blob(99, 77) });
  await v.close();
  const again = await loadVolumeWithReport(dir);
  try {
    expect(again.volume.read(99n, 99).data.equals(blob(99, 77))).toBe(true);
    expect(keys.map((k) => show(codeOfRead(again.volume, k)))).toEqual(before);
  } finally {
    await again.volume.close();
  }
}

describe("one flipped byte anywhere (fast-check)", () => {
  it("keeps every healthy needle, never serves a damaged one wrongly, cuts nothing without a copy", async () => {
    await fc.assert(
      fc.asyncProperty(
        idxModeArb,
        fc.integer({ min: 8, max: 100_000 }),
        fc.integer({ min: 1, max: 255 }),
        async (mode, rawPos, xor) => {
          const pos = 8 + (rawPos % (datTemplate.length - 8));
          const { dir, dat } = prepare(mode, pos, xor);
          const { volume, report } = await loadVolumeWithReport(dir);
          try {
            expectCutBytesKept(dir, dat, report);
            expectNeedles(volume, report, mode, pos, xor);
          } finally {
            await expectWritableAndStable(dir, volume);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("the record layout the property relies on (first record: header, then its fields)", () => {
    const first = records[0] as RecordInfo;
    expect(first.at).toBe(8);
    expect(first.fields.slice(0, needleHeaderBytes + 4)).toEqual([
      ...Array<string>(4).fill("cookie"),
      ...Array<string>(8).fill("key"),
      ...Array<string>(4).fill("size"),
      ...Array<string>(4).fill("dataSize"),
    ]);
    expect(first.fields.filter((f) => f === "name").length).toBe(5);
    expect(records.map((r) => r.key)).toEqual([1, 2, 3, 4, 1, 5, 4, 6, 7, 8]);
  });
});
