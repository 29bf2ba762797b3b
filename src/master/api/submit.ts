// POST /submit: upload through the master (SeaweedFS submitForClientHandler). The body is read by
// the same reader as the volume server's uploads (src/common/multipart.ts), so a body gets the
// same answer at either: multipart (`curl -F file=@x`) or raw, at most submitBytesMax, 413 past
// it, 400 when malformed or cut off. Then a fid is assigned, the file is uploaded to the volume
// server, and the client gets 201 {"fileName","fid","fileUrl","size","eTag"}.
import type { IncomingMessage } from "node:http";
import { readUpload } from "../../common/multipart.js";
import { submitBytesMax } from "../limits.js";

export interface SubmittedFile {
  fileName: string;
  mime: string;
  data: Buffer;
  /** Form fields of a multipart body (they override query parameters, as Go's FormValue does). */
  fields: ReadonlyMap<string, string>;
}

/** Reads the uploaded file of a /submit request. */
export async function readSubmittedFile(req: IncomingMessage): Promise<SubmittedFile> {
  // A refusal leaves the rest of the body unread: the error answer discards it, bounded.
  const upload = await readUpload(req, submitBytesMax);
  return { fileName: upload.fileName, mime: upload.contentType, data: upload.data, fields: upload.fields };
}
