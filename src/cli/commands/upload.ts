// `weed-ts upload [-master] [-replication] [-collection] [-ttl] [-dataCenter] files...` (SeaweedFS's
// `weed upload`): each file gets a fid from the master's /dir/assign and is POSTed to the volume
// server it names (with the write token when the cluster signs them); prints one JSON array of
// {fileName, fid, fileUrl, size} or {fileName, error}, as SeaweedFS does. Exit 1 if any failed.
import { openAsBlob, statSync } from "node:fs";
import { basename } from "node:path";
import { FormData, request } from "undici";
import { httpOrigin } from "../../common/security/https.js";
import type { Command } from "../command.js";
import { replicationCheck } from "../common-flags.js";
import { nonEmptyCheck, str, UsageError, type FlagSpec } from "../flags.js";
import { securityFlag, securityFromFlags } from "../security-flags.js";

/** An assign answers at once; a minute covers a leader election and a volume growth behind it. */
const assignTimeoutMs = 60_000;
/** A file streams as long as it keeps moving; this bounds a stall between chunks, not the whole. */
const uploadIdleTimeoutMs = 120_000;

const uploadFlags: readonly FlagSpec[] = [
  { name: "master", type: "string", default: "localhost:9333", usage: "any master's host:port", check: nonEmptyCheck },
  {
    name: "replication",
    type: "string",
    default: "",
    usage: 'replica placement, e.g. "001" (default: the master\'s)',
    check: (v) => (v === "" ? undefined : replicationCheck(v)),
  },
  { name: "collection", type: "string", default: "", usage: "collection to store the files in" },
  { name: "ttl", type: "string", default: "", usage: "time to live, e.g. 3m, 4h, 5d, 6w, 7M, 8y" },
  { name: "dataCenter", type: "string", default: "", usage: "prefer volumes in this data center" },
  securityFlag,
];

interface Assigned {
  fid: string;
  url: string;
  publicUrl?: string;
  auth?: string;
}

interface Uploaded {
  fileName: string;
  fid?: string;
  fileUrl?: string;
  size?: number;
  error?: string;
}

async function json<T>(r: Awaited<ReturnType<typeof request>>, what: string): Promise<T> {
  const text = await r.body.text();
  let body: T & { error?: string };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${what} answered ${r.statusCode}: ${text.slice(0, 200)}`);
  }
  if (r.statusCode >= 300) throw new Error(body.error ?? `${what} answered ${r.statusCode}`);
  return body;
}

async function uploadOne(master: string, params: URLSearchParams, path: string): Promise<Uploaded> {
  const fileName = basename(path);
  try {
    const size = statSync(path).size;
    const assignUrl = `${httpOrigin(master)}/dir/assign?${params.toString()}`;
    const a = await json<Assigned>(
      await request(assignUrl, { method: "POST", headersTimeout: assignTimeoutMs, bodyTimeout: assignTimeoutMs }),
      `master ${master}`,
    );
    const form = new FormData();
    form.set("file", await openAsBlob(path), fileName);
    const target = `${httpOrigin(a.url)}/${a.fid}`;
    const headers = a.auth === undefined || a.auth === "" ? {} : { authorization: `Bearer ${a.auth}` };
    const r = await request(target, {
      method: "POST",
      body: form,
      headers,
      headersTimeout: uploadIdleTimeoutMs,
      bodyTimeout: uploadIdleTimeoutMs,
    });
    await json<{ size?: number }>(r, `volume server ${a.url}`);
    return { fileName, fid: a.fid, fileUrl: `${a.publicUrl ?? a.url}/${a.fid}`, size };
  } catch (err) {
    return { fileName, error: (err as Error).message };
  }
}

export const uploadCommand: Command = {
  name: "upload",
  summary: "Uploads files (weed upload): prints a JSON array with each file's fid and URL.",
  flags: uploadFlags,
  acceptsArguments: true,
  async run(flags, io) {
    securityFromFlags(flags.values, (w) => io.err.write(`warning: ${w}\n`));
    const v = flags.values;
    if (flags.positional.length === 0) throw new UsageError("name at least one file to upload");
    const params = new URLSearchParams();
    for (const name of ["replication", "collection", "ttl", "dataCenter"])
      if (str(v, name) !== "") params.set(name, str(v, name));
    const results: Uploaded[] = [];
    for (const path of flags.positional) results.push(await uploadOne(str(v, "master"), params, path));
    io.out.write(`${JSON.stringify(results, null, 2)}\n`);
    return results.every((r) => r.error === undefined) ? 0 : 1;
  },
};
