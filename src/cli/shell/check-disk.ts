// `volume.check.disk [-apply] [-volumeId=N] [-collection=name] [-syncDeleted=true]` (SeaweedFS
// weed/shell/command_volume_check_disk.go): every volume with more than one replica has its
// replicas' needle sets compared and, with -apply, made equal (src/master/repair/check-disk.ts);
// a volume that converged has its needs-check flag cleared. Dry run unless -apply.
import { checkVolumeReplicas, type CheckDiskResult } from "../../master/repair/check-disk.js";
import type { CommandIo } from "../command.js";
import type { JwtSigning } from "../../common/security/config.js";
import type { ShellContext } from "./context.js";
import { readCluster, volumesOf, type VolumeReplicas } from "./cluster-topology.js";

export interface CheckDiskShellOptions {
  apply: boolean;
  /** 0: every volume. */
  volumeId: number;
  /** "": every collection. */
  collection: string;
  syncDeleted: boolean;
}

/** The volumes to check: replicated (two holders or more), filtered by id and collection, by id. */
export function volumesToCheck(all: Iterable<VolumeReplicas>, o: CheckDiskShellOptions): VolumeReplicas[] {
  return [...all]
    .filter((v) => v.holders.length >= 2)
    .filter((v) => o.volumeId === 0 || v.id === o.volumeId)
    .filter((v) => o.collection === "" || v.collection === o.collection)
    .sort((a, b) => a.id - b.id);
}

async function checkOne(
  v: VolumeReplicas,
  o: CheckDiskShellOptions,
  io: CommandIo,
  jwtSigning: JwtSigning | undefined,
): Promise<CheckDiskResult> {
  const replicas = v.holders.map((h) => ({ url: h.node.url, grpcAddress: h.node.grpcAddress }));
  return checkVolumeReplicas(v.id, replicas, {
    apply: o.apply,
    syncDeletes: o.syncDeleted,
    say: (line) => io.out.write(line + "\n"),
    jwtSigning,
  });
}

/** Runs the command; resolves false when some volume could not be checked or made to converge. */
/** `ctx.security`'s [jwt.signing] key signs the deletes a secured cluster's volume servers check. */
export async function checkDisk(ctx: ShellContext, o: CheckDiskShellOptions, io: CommandIo): Promise<boolean> {
  const master = ctx.master;
  if (!o.apply) io.out.write("dry run: nothing is changed; add -apply to copy and delete needles\n");
  const all = volumesOf(await readCluster(master));
  if (o.volumeId !== 0 && !all.has(o.volumeId)) throw new Error(`volume ${o.volumeId} not found`);
  const todo = volumesToCheck(all.values(), o);
  let ok = true;
  let differing = 0;
  for (const v of todo) {
    try {
      const r = await checkOne(v, o, io, ctx.security.jwtSigning);
      if (r.differences > 0) differing++;
      if (o.apply && !r.converged) ok = false;
    } catch (err) {
      io.err.write(`volume ${v.id}: ${(err as Error).message}\n`);
      ok = false;
    }
  }
  const verb = o.apply ? "differed" : "differ";
  io.out.write(`checked ${todo.length} replicated volumes, ${differing} ${verb}\n`);
  return ok;
}
