// The volume server's reading of an upload body: the reader it shares with the master's /submit
// (src/common/multipart.ts), plus SeaweedFS's name for a raw body that names no file.
import type { IncomingMessage } from "node:http";
import { isMultipartUpload, readUpload, type ReadUploadOptions, type Upload } from "../common/multipart.js";

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The upload in `req` (file at most `fileBytesMax` bytes, read as `opts` say) sent to the fid path `path`. */
export async function readVolumeUpload(
  req: IncomingMessage,
  fileBytesMax: number,
  path: string,
  opts: ReadUploadOptions = {},
): Promise<Upload> {
  const upload = await readUpload(req, fileBytesMax, opts);
  if (upload.fileName !== "" || isMultipartUpload(req)) return upload;
  // SeaweedFS: path.Base(r.URL.Path), so "/3,01637037d6" names the needle "3,01637037d6".
  return { ...upload, fileName: decodeURIComponentSafe(path.slice(path.lastIndexOf("/") + 1)) };
}
