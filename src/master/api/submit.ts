// POST /submit: upload through the master (SeaweedFS submitForClientHandler). The file arrives as
// multipart (`curl -F file=@x`) or as a raw body; it is read into one Buffer under a size limit,
// a fid is assigned, the file is uploaded to the volume server, and the client gets
// 201 {"fileName","fid","fileUrl","size","eTag"}.
import type { IncomingMessage } from "node:http";
import { Busboy, type BusboyFileStream } from "@fastify/busboy";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { readBody } from "../../common/http-util.js";
import { submitBytesMax, submitFieldsMax } from "../limits.js";

export interface SubmittedFile {
  fileName: string;
  mime: string;
  data: Buffer;
  /** Form fields of a multipart body (they override query parameters, as Go's FormValue does). */
  fields: Map<string, string>;
}

function tooLarge(): WeedError {
  return new WeedError(ErrorCode.TOO_LARGE, `file over the limited ${submitBytesMax} bytes`);
}

/** Reads the uploaded file of a /submit request. */
export async function readSubmittedFile(req: IncomingMessage): Promise<SubmittedFile> {
  const type = req.headers["content-type"] ?? "";
  if (/^multipart\/form-data/i.test(type)) return readMultipart(req, type);
  const data = await readBody(req, submitBytesMax);
  return { fileName: fileNameOf(req.headers["content-disposition"]), mime: type, data, fields: new Map() };
}

/** filename= (or name=) of a Content-Disposition header, as SeaweedFS's raw-body upload reads it. */
function fileNameOf(disposition: string | undefined): string {
  if (disposition === undefined) return "";
  const m =
    /(?:^|;)\s*filename\s*=\s*(?:"([^"]*)"|([^;]*))/i.exec(disposition) ??
    /(?:^|;)\s*name\s*=\s*(?:"([^"]*)"|([^;]*))/i.exec(disposition);
  return m === null ? "" : (m[1] ?? m[2] ?? "").trim();
}

interface Collected {
  fileName: string;
  mime: string;
  chunks: Buffer[];
  bytes: number;
}

function readMultipart(req: IncomingMessage, contentType: string): Promise<SubmittedFile> {
  return new Promise((resolve, reject) => {
    let bb;
    try {
      bb = Busboy({
        headers: { ...req.headers, "content-type": contentType },
        limits: { fileSize: submitBytesMax, fields: submitFieldsMax },
      });
    } catch (err) {
      reject(
        new WeedError(
          ErrorCode.BAD_REQUEST,
          `bad multipart upload: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        ),
      );
      return;
    }
    const fields = new Map<string, string>();
    let chosen: Collected | undefined;
    let failed = false;
    const fail = (err: WeedError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(err);
    };
    bb.on("field", (name: string, value: string) => fields.set(name, value));
    bb.on("file", (_field: string, stream: BusboyFileStream, fileName: string, _enc: string, mime: string) => {
      // The first part with a file name is the file; a nameless part counts only until one with a name comes.
      const take = chosen === undefined || (chosen.fileName === "" && fileName !== "");
      if (!take) {
        stream.resume();
        return;
      }
      const c: Collected = { fileName: fileName ?? "", mime: mime ?? "", chunks: [], bytes: 0 };
      chosen = c;
      stream.on("data", (chunk: Buffer) => {
        if (chosen !== c) return;
        c.chunks.push(chunk);
        c.bytes += chunk.length;
      });
      stream.on("limit", () => fail(tooLarge()));
    });
    bb.on("error", (err: unknown) =>
      fail(
        new WeedError(
          ErrorCode.BAD_REQUEST,
          `bad multipart upload: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        ),
      ),
    );
    bb.on("finish", () => {
      if (failed) return;
      if (chosen === undefined) {
        reject(new WeedError(ErrorCode.BAD_REQUEST, "no file in the multipart upload"));
        return;
      }
      const data = chosen.chunks.length === 1 ? chosen.chunks[0]! : Buffer.concat(chosen.chunks, chosen.bytes);
      resolve({ fileName: chosen.fileName, mime: chosen.mime, data, fields });
    });
    req.on("aborted", () => fail(new WeedError(ErrorCode.BAD_REQUEST, "client aborted the upload")));
    req.on("error", (err) =>
      fail(new WeedError(ErrorCode.BAD_REQUEST, `reading the upload failed: ${err.message}`, { cause: err })),
    );
    req.pipe(bb);
  });
}
