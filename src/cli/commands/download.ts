// `weed-ts download [-server] [-dir] fids...` (SeaweedFS's `weed download`): each fid's volume is
// looked up at the master, the blob read from a server holding it (with the read token when the
// cluster signs reads) and written to -dir under the name it was uploaded with (else the fid).
// A file is written to a temporary name and renamed when complete: no partial file is left.
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import { dispositionFileName } from "../../common/content-disposition.js";
import { httpOrigin } from "../../common/security/https.js";
import type { Command } from "../command.js";
import { nonEmptyCheck, str, UsageError, type FlagSpec } from "../flags.js";
import { securityFlag, securityFromFlags } from "../security-flags.js";

/** A lookup answers at once; half a minute covers a leader election. */
const lookupTimeoutMs = 30_000;
/** A blob streams as long as it keeps moving; this bounds a stall, not the whole download. */
const readIdleTimeoutMs = 120_000;

const downloadFlags: readonly FlagSpec[] = [
  {
    name: "server",
    type: "string",
    default: "localhost:9333",
    usage: "any master's host:port",
    check: nonEmptyCheck,
  },
  { name: "dir", type: "string", default: ".", usage: "directory to write the files to" },
  securityFlag,
];

interface Lookup {
  locations?: { url: string; publicUrl?: string }[];
  auth?: string;
  error?: string;
}

/** The name a downloaded blob is saved under: the uploaded file name, never a path. */
function saveName(disposition: string | undefined, fid: string): string {
  const name = basename(dispositionFileName(disposition, true));
  return name === "" || name === "." || name === ".." ? fid.replace(/[^\w.,-]/g, "_") : name;
}

async function downloadOne(master: string, dir: string, fid: string): Promise<string> {
  const q = new URLSearchParams({ fileId: fid, read: "yes" });
  const l = await request(`${httpOrigin(master)}/dir/lookup?${q.toString()}`, {
    headersTimeout: lookupTimeoutMs,
    bodyTimeout: lookupTimeoutMs,
  });
  const found = (await l.body.json()) as Lookup;
  const where = found.locations?.[0];
  if (l.statusCode !== 200 || where === undefined) throw new Error(found.error ?? `lookup answered ${l.statusCode}`);
  const headers = found.auth === undefined || found.auth === "" ? {} : { authorization: `Bearer ${found.auth}` };
  const r = await request(`${httpOrigin(where.url)}/${fid}`, {
    headers,
    headersTimeout: readIdleTimeoutMs,
    bodyTimeout: readIdleTimeoutMs,
  });
  if (r.statusCode !== 200) {
    const text = await r.body.text();
    throw new Error(`${where.url} answered ${r.statusCode}: ${text.slice(0, 200)}`);
  }
  const disposition = r.headers["content-disposition"];
  const file = join(dir, saveName(typeof disposition === "string" ? disposition : undefined, fid));
  const partial = `${file}.${process.pid}.part`;
  try {
    await pipeline(r.body, createWriteStream(partial, { flags: "wx" }));
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return file;
}

export const downloadCommand: Command = {
  name: "download",
  summary: "Downloads blobs by fid (weed download) into -dir, under their uploaded names.",
  flags: downloadFlags,
  acceptsArguments: true,
  async run(flags, io) {
    securityFromFlags(flags.values, (w) => io.err.write(`warning: ${w}\n`));
    if (flags.positional.length === 0) throw new UsageError("name at least one fid to download");
    let failed = 0;
    for (const fid of flags.positional) {
      try {
        const file = await downloadOne(str(flags.values, "server"), str(flags.values, "dir"), fid);
        io.out.write(`${fid} -> ${file}\n`);
      } catch (err) {
        failed++;
        io.err.write(`${fid}: ${(err as Error).message}\n`);
      }
    }
    return failed === 0 ? 0 : 1;
  },
};
