// A master's configuration, validated once when the server is constructed.
import { ErrorCode, WeedError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { SecurityConfig } from "../common/security/config.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import {
  growthCountMax,
  repairGraceSecondsMax,
  vacuumPeriodMsMax,
  vacuumPeriodMsMin,
  volumeSizeLimitMBMax,
} from "./limits.js";

export const MASTER_VERSION = "0.1.0";

export interface MasterConfig {
  /** Advertised host, e.g. "127.0.0.1" or "localhost". */
  ip: string;
  /** Listen address. */
  bindIp: string;
  /** HTTP port (0 = pick a free one). */
  port: number;
  /** gRPC port (0 = pick a free one). */
  grpcPort: number;
  /** State directory: the Raft log and snapshots (LevelDB) in mdir/raft, the lock and id files. */
  mdir: string;
  /** A volume at or over this size is full (not writable). Default in SeaweedFS: 30720. */
  volumeSizeLimitMB: number;
  /**
   * Volume servers' heartbeat interval in seconds (-pulseSeconds, default 5): one silent for
   * silentPulsesMax pulses is dropped.
   */
  pulseSeconds?: number;
  /** Replication when an assign gives none, e.g. "000". */
  defaultReplication: string;
  /** Volumes grown per layout when none is writable; default by copy count (7, 6, 3, 1). */
  volumeGrowthCount?: number;
  /**
   * A volume under-replicated this long (seconds) is copied by the leader in the background
   * (-repairGraceSeconds); 0: never, only volume.fix.replication repairs. Default
   * repairGraceSecondsDefault.
   */
  repairGraceSeconds?: number;
  /** -garbageThreshold: automatic vacuum passes compact volumes at least this much garbage. Default 0.3. */
  garbageThreshold?: number;
  /** -vacuumPeriod: between the leader's automatic vacuum passes (ms); 0: none. Default 15 min. */
  vacuumPeriodMs?: number;
  /** After this master becomes leader, growth is refused this long (ms) while volume servers report. */
  warmUpMs?: number;
  /**
   * Every master's id ("host:port" of its HTTP server as the operator lists it), this one
   * included; empty or absent for a single master. Used to bootstrap the Raft group on the first
   * start only: afterwards the membership lives in the Raft log in mdir.
   */
  peers?: readonly string[];
  /** This master's id as `peers` spells it; default "ip:port". */
  self?: string;
  /**
   * Members of a running cluster (any one will do) to ask for admission, when this master is not
   * yet a voter: it joins as a learner, catches up, and is promoted. Empty or absent otherwise.
   */
  join?: readonly string[];
  /** Raft timing (see src/raft/runtime/TUNING.md); defaults suit a LAN or loopback. */
  raft?: { tickMs?: number; electionTicks?: number; heartbeatTicks?: number; snapshotThreshold?: number };
  /** security.toml and -whiteList (src/common/security); absent = an open cluster. */
  security?: SecurityConfig;
  logger: Logger;
}

function badConfig(what: string, value: unknown, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `invalid master config ${what}=${JSON.stringify(value)}: ${why}`);
}

function validatePort(name: string, p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw badConfig(name, p, "expected 0-65535");
}

export function validateMasterConfig(c: MasterConfig): void {
  if (c.ip === "") throw badConfig("ip", c.ip, "must not be empty");
  if (c.mdir === "") throw badConfig("mdir", c.mdir, "must not be empty");
  validatePort("port", c.port);
  validatePort("grpcPort", c.grpcPort);
  if (!Number.isInteger(c.volumeSizeLimitMB) || c.volumeSizeLimitMB < 1 || c.volumeSizeLimitMB > volumeSizeLimitMBMax) {
    throw badConfig(
      "volumeSizeLimitMB",
      c.volumeSizeLimitMB,
      `expected 1-${volumeSizeLimitMBMax} (4-byte offsets address at most 32 GiB)`,
    );
  }
  parseReplicaPlacement(c.defaultReplication);
  const g = c.volumeGrowthCount;
  if (g !== undefined && (!Number.isInteger(g) || g < 1 || g > growthCountMax))
    throw badConfig("volumeGrowthCount", g, `expected 1-${growthCountMax}`);
  if (c.pulseSeconds !== undefined && (!Number.isInteger(c.pulseSeconds) || c.pulseSeconds < 1))
    throw badConfig("pulseSeconds", c.pulseSeconds, "expected a whole number of seconds >= 1");
  const grace = c.repairGraceSeconds;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0 || grace > repairGraceSecondsMax))
    throw badConfig(
      "repairGraceSeconds",
      grace,
      `expected 0 (off) or a whole number of seconds up to ${repairGraceSecondsMax}`,
    );
  if (c.warmUpMs !== undefined && (!Number.isInteger(c.warmUpMs) || c.warmUpMs < 0))
    throw badConfig("warmUpMs", c.warmUpMs, "expected >= 0");
  validateVacuum(c);
}

function validateVacuum(c: MasterConfig): void {
  const t = c.garbageThreshold;
  if (t !== undefined && !(Number.isFinite(t) && t > 0 && t <= 1))
    throw badConfig("garbageThreshold", t, "expected a number in (0, 1]");
  const p = c.vacuumPeriodMs;
  if (p !== undefined && p !== 0 && !(Number.isInteger(p) && p >= vacuumPeriodMsMin && p <= vacuumPeriodMsMax))
    throw badConfig("vacuumPeriodMs", p, `expected 0 (off) or ${vacuumPeriodMsMin}-${vacuumPeriodMsMax} ms`);
}
