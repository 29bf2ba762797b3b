// An -mdir knows what it was (issue 9 item 4): a directory that has held a member's Raft state
// never starts a new cluster when that state is lost or damaged, and is never taken over under
// another address; each refusal is one clear line naming the directory and what to do.
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { MASTER_ID_FILE, readMasterId } from "../../../src/master/state/mdir.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { freePort } from "../../integration/harness.js";
import { startMaster } from "./helpers.js";

let tmp: TempDir;
let mdir: string;

beforeEach(async () => {
  tmp = await tempDir("weed-ts-mdir-identity-");
  mdir = join(tmp.dir, "m");
});

afterEach(async () => {
  await tmp.remove();
});

/** A master that ran once on `mdir` (fixed port: its id must be the same at the next start). */
async function ranOnce(port: number): Promise<string> {
  const m = await startMaster(mdir, { port, grpcPort: 0 });
  const id = m.address;
  await m.close();
  return id;
}

async function refusal(port: number): Promise<WeedError> {
  const err = await startMaster(mdir, { port, grpcPort: 0 }).then(
    async (m) => {
      await m.close();
      return new Error("the master started");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeedError);
  return err as WeedError;
}

describe("a master directory that has been a member", () => {
  it("records master.id once its Raft state exists, and restarts under the same id", async () => {
    const port = await freePort();
    const id = await ranOnce(port);
    expect(await readMasterId(mdir)).toBe(id);
    const again = await startMaster(mdir, { port, grpcPort: 0 });
    expect(again.address).toBe(id);
    await again.close();
  });

  it("refuses to bootstrap a new cluster when its Raft log is gone", async () => {
    const port = await freePort();
    const id = await ranOnce(port);
    await rm(join(mdir, "raft"), { recursive: true });
    const err = await refusal(port);
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(err.message).toContain(`master directory ${mdir} has no Raft state`);
    expect(err.message).toContain(`says ${id} has been a cluster member`);
    expect(err.message).not.toContain("\n");
    // Refused again on the next try: the empty store the refused start left is no new cluster.
    expect((await refusal(port)).code).toBe(ErrorCode.CONFLICT);
  });

  it("refuses to start under another address", async () => {
    const port = await freePort();
    const id = await ranOnce(port);
    const other = await freePort();
    const err = await refusal(other);
    expect(err.code).toBe(ErrorCode.CONFLICT);
    expect(err.message).toContain(`belongs to master ${id}`);
    expect(err.message).toContain(`127.0.0.1:${other}`);
    expect(await readMasterId(mdir)).toBe(id);
  });

  it("names the path and the cause when the Raft store cannot be read", async () => {
    const port = await freePort();
    await ranOnce(port);
    // LevelDB finds its current manifest through CURRENT: point it at one that does not exist.
    await writeFile(join(mdir, "raft", "CURRENT"), "MANIFEST-999999\n");
    const err = await refusal(port);
    expect(err.code).toBe(ErrorCode.CORRUPT);
    expect(err.message).toContain(`the Raft state in ${join(mdir, "raft")} cannot be read`);
    expect(err.message).not.toContain("\n");
  });

  it("starts a fresh directory as before, writing master.id", async () => {
    const m = await startMaster(mdir);
    expect(await readdir(mdir)).toContain(MASTER_ID_FILE);
    await m.close();
  });
});
