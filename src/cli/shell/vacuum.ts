// volume.vacuum, volume.vacuum.disable and volume.vacuum.enable (SeaweedFS's shell commands): the
// master's /vol/vacuum pass, synchronous, and the switch of its automatic passes.
import type { CommandIo } from "../command.js";
import { adminPost } from "./admin-http.js";
import type { ShellContext } from "./context.js";

/**
 * A pass compacts every volume over the threshold, one after another: minutes for a large
 * cluster. An hour before the shell stops waiting (the pass goes on at the leader regardless).
 */
const vacuumPassTimeoutMs = 60 * 60_000;
/** Flipping the switch is one in-memory change at the leader. */
const vacuumSwitchTimeoutMs = 30_000;

export interface VacuumShellOptions {
  garbageThreshold: number;
  collection?: string;
  volumeId?: number;
}

interface Outcome {
  volumeId: number;
  collection: string;
  result: string;
  garbageRatio?: number;
  bytesBefore?: number;
  bytesAfter?: number;
  error?: string;
}

function bytesText(n: number | undefined): string {
  if (n === undefined) return "?";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function outcomeLine(o: Outcome): string {
  const name = o.collection === "" ? `volume ${o.volumeId}` : `volume ${o.volumeId} (${o.collection})`;
  const ratio = o.garbageRatio === undefined ? "" : `, garbage ${(o.garbageRatio * 100).toFixed(1)}%`;
  if (o.result === "vacuumed")
    return `${name}: vacuumed${ratio}, ${bytesText(o.bytesBefore)} -> ${bytesText(o.bytesAfter)}`;
  return `${name}: ${o.result}${ratio}${o.error === undefined ? "" : `: ${o.error}`}`;
}

/** Runs one pass; false when a volume failed (each line says which and why). */
export async function vacuumVolumes(ctx: ShellContext, o: VacuumShellOptions, io: CommandIo): Promise<boolean> {
  const q = new URLSearchParams({ garbageThreshold: String(o.garbageThreshold) });
  if (o.collection !== undefined) q.set("collection", o.collection);
  if (o.volumeId !== undefined) q.set("volumeId", String(o.volumeId));
  const body = await adminPost<{ Vacuumed?: Outcome[] }>(ctx, `/vol/vacuum?${q.toString()}`, vacuumPassTimeoutMs);
  const outcomes = body.Vacuumed ?? [];
  if (outcomes.length === 0) io.out.write(`no volume at or over garbage threshold ${o.garbageThreshold}\n`);
  for (const x of outcomes) io.out.write(`${outcomeLine(x)}\n`);
  return outcomes.every((x) => x.result !== "failed");
}

/** volume.vacuum.disable / enable: only the automatic passes stop; volume.vacuum still runs. */
export async function setVacuumEnabled(ctx: ShellContext, enabled: boolean, io: CommandIo): Promise<void> {
  const body = await adminPost<{ vacuumEnabled?: boolean }>(
    ctx,
    `/vol/vacuum/${enabled ? "enable" : "disable"}`,
    vacuumSwitchTimeoutMs,
  );
  io.out.write(`automatic vacuum ${body.vacuumEnabled === true ? "enabled" : "disabled"}\n`);
}
