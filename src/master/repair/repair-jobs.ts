// The leader's repair jobs done for real: the gRPC copy shared with the shell, and the replica
// check shared with volume.check.disk, each with its deadline.
import type { JwtSigning } from "../../common/security/config.js";
import { checkVolumeReplicas } from "./check-disk.js";
import { replicaCheckTimeoutMs, replicaCopyTimeoutMs } from "./limits.js";
import { copyReplica } from "./replica-calls.js";
import type { CheckDone, CopyDone } from "./repairer.js";
import type { CheckJob, CopyJob } from "./repair-schedule.js";

export function runCopyJob(job: CopyJob, signal: AbortSignal): Promise<CopyDone> {
  const o = { timeoutMs: replicaCopyTimeoutMs, signal };
  return copyReplica(job.volumeId, job.source.grpcAddress, job.target.grpcAddress, o);
}

/** Reconciles the replicas both ways, deletes included (the leader acts: apply). */
export function runCheckJob(job: CheckJob, signal: AbortSignal, jwtSigning?: JwtSigning): Promise<CheckDone> {
  const replicas = job.replicas.map((r) => ({ url: r.node, grpcAddress: r.grpcAddress }));
  const o = {
    apply: true,
    syncDeletes: true,
    signal: AbortSignal.any([signal, AbortSignal.timeout(replicaCheckTimeoutMs)]),
    jwtSigning,
  };
  return checkVolumeReplicas(job.volumeId, replicas, o);
}

/** runCheckJob with the master's [jwt.signing] key: its deletes on secured volume servers carry a token. */
export function checkJobRunner(jwtSigning: JwtSigning | undefined) {
  return (job: CheckJob, signal: AbortSignal): Promise<CheckDone> => runCheckJob(job, signal, jwtSigning);
}
