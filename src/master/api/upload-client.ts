// Uploads from /submit to volume servers: one keep-alive undici Pool per volume server, sending
// the file as a one-part multipart POST (what `curl -F` and SeaweedFS's own submit send), so the
// volume server keeps the file name and mime type.
import { Readable } from "node:stream";
import { Pool } from "undici";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { bearer } from "../../common/security/jwt.js";
import { submitUploadTimeoutMs, uploadConnectionsPerServer, uploadDrainGraceMs } from "../limits.js";
import { httpConnectOptions, httpOrigin } from "../../common/security/https.js";

export interface UploadInput {
  /** "ip:port" of the volume server. */
  server: string;
  fid: string;
  fileName: string;
  mime: string;
  data: Buffer;
  signal?: AbortSignal;
  /** A write token for the fid (security.toml's [jwt.signing]), sent as `Authorization: Bearer`. */
  auth?: string | undefined;
}

/** The volume server's 201 body (operation.UploadResult). */
export interface UploadResult {
  name: string;
  size: number;
  eTag: string;
  mime: string;
}

/** Multipart header values cannot carry CR, LF or an unescaped quote (browsers send %22). */
function quoteFileName(name: string): string {
  return name.replace(/[\r\n]/g, "").replace(/"/g, "%22");
}

export class UploadClient {
  private readonly pools = new Map<string, Pool>();

  async upload(input: UploadInput): Promise<UploadResult> {
    const boundary = `weedts${process.hrtime.bigint().toString(36)}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteFileName(input.fileName)}"\r\n` +
        `Content-Type: ${input.mime === "" ? "application/octet-stream" : input.mime}\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    let res;
    try {
      res = await this.pool(input.server).request({
        path: `/${input.fid}`,
        method: "POST",
        headers: {
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": String(head.length + input.data.length + tail.length),
          ...(input.auth === undefined ? {} : { authorization: bearer(input.auth) }),
        },
        body: Readable.from([head, input.data, tail], { objectMode: false }),
        headersTimeout: submitUploadTimeoutMs,
        bodyTimeout: submitUploadTimeoutMs,
        signal: input.signal ?? null,
      });
    } catch (err) {
      throw new WeedError(
        ErrorCode.UNAVAILABLE,
        `upload to ${input.server}/${input.fid} failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const text = await res.body.text();
    if (res.statusCode !== 201 && res.statusCode !== 204) {
      throw new WeedError(
        ErrorCode.IO,
        `upload to ${input.server}/${input.fid} answered ${res.statusCode}: ${text.slice(0, 500)}`,
      );
    }
    return parseUploadResult(text, input);
  }

  /**
   * Drops the pool of a server that left the topology. Uploads in flight to it are failed, as
   * outcome unknown, rather than left to hang until submitUploadTimeoutMs: at once when it
   * `vanished` (went silent, its connection broke), else those still running after
   * uploadDrainGraceMs (a server that is stopping answers them within it; one cut off, whose
   * stream may look ended, does not).
   */
  forget(server: string, vanished = false): void {
    const p = this.pools.get(server);
    if (p === undefined) return;
    this.pools.delete(server);
    const fail = (): void => {
      const why = `volume server ${server} left during the upload: outcome unknown, check before retrying`;
      p.destroy(new WeedError(ErrorCode.UNAVAILABLE, why)).catch(() => undefined);
    };
    if (vanished) return fail();
    p.close().catch(() => undefined);
    setTimeout(fail, uploadDrainGraceMs).unref();
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }

  private pool(server: string): Pool {
    let p = this.pools.get(server);
    if (p === undefined) {
      p = new Pool(httpOrigin(server), { connections: uploadConnectionsPerServer, connect: httpConnectOptions({}) });
      this.pools.set(server, p);
    }
    return p;
  }
}

function parseUploadResult(text: string, input: UploadInput): UploadResult {
  let body: Partial<UploadResult> = {};
  if (text !== "") {
    try {
      body = JSON.parse(text) as Partial<UploadResult>;
    } catch (err) {
      throw new WeedError(
        ErrorCode.IO,
        `upload to ${input.server}/${input.fid} answered with non-JSON: ${text.slice(0, 200)}`,
        { cause: err },
      );
    }
  }
  return {
    name: typeof body.name === "string" ? body.name : input.fileName,
    size: typeof body.size === "number" ? body.size : input.data.length,
    eTag: typeof body.eTag === "string" ? body.eTag : "",
    mime: typeof body.mime === "string" ? body.mime : input.mime,
  };
}
