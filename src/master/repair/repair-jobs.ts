// The leader's repair jobs done for real: the gRPC copy shared with the shell, with its deadline.
import { replicaCopyTimeoutMs } from "./limits.js";
import { copyReplica } from "./replica-calls.js";
import type { CopyDone } from "./repairer.js";
import type { CopyJob } from "./repair-schedule.js";

export function runCopyJob(job: CopyJob, signal: AbortSignal): Promise<CopyDone> {
  const o = { timeoutMs: replicaCopyTimeoutMs, signal };
  return copyReplica(job.volumeId, job.source.grpcAddress, job.target.grpcAddress, o);
}
