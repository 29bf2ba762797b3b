// The admin credential on gRPC ([jwt.admin] key, admin-token.ts): the volume server's methods that
// create, delete or overwrite data, and the master's membership changes, need `authorization:
// Bearer <admin token>` metadata, else UNAUTHENTICATED (a follower passing a membership change on
// to the leader signs its own call with the same key). Callers (the leader's allocation and
// repair, the shell) get it from one process-wide key installed at start, as tls.ts's process
// identity: the call sites that dial need nothing threaded through them, and a fresh token is
// minted per admin call (they are rare; a 60 s token is never near expiry when it arrives).
// Heartbeats and Raft carry none: they are the cluster's own traffic, and mutual TLS is what
// keeps strangers off them.
import type * as grpc from "@grpc/grpc-js";
import { InterceptingCall } from "@grpc/grpc-js";
import type { AdminTokenKey } from "../common/security/admin-token.js";
import type { AdminCredential } from "../common/security/admin-credential.js";
import { peerCommonName, type PeerAuthContext } from "./tls.js";

/** The volume server's gRPC service (volume_server.proto's package and service). */
export const volumeServerServiceName = "volume_server_pb.VolumeServer";

/**
 * Methods that change what a volume server holds: allocate, delete, copy a volume in, write a
 * needle record, clear the "needs check" flag, vacuum, mark read-only/writable, delete a
 * collection. The others stay open: they change nothing, and
 * CopyFile and ReadVolumeFileStatus are what a copying volume server (which holds no admin key)
 * reads its source with; on a network where reads must be closed too, [grpc] mutual TLS closes
 * the whole port to strangers.
 */
export const adminVolumeMethods: ReadonlySet<string> = new Set([
  "AllocateVolume",
  "VolumeDelete",
  "VolumeCopy",
  "WriteNeedleBlob",
  "VolumeCheckDone",
  "VacuumVolumeCompact",
  "VacuumVolumeCommit",
  "VacuumVolumeCleanup",
  "VolumeMarkReadonly",
  "VolumeMarkWritable",
  "DeleteCollection",
]);

/** The master's gRPC service (master.proto's package and service). */
export const masterServiceName = "master_pb.Seaweed";

/** The master's membership changes: the same as /cluster/raft/add, remove and transfer on HTTP. */
export const adminMasterMethods: ReadonlySet<string> = new Set([
  "RaftAddServer",
  "RaftRemoveServer",
  "RaftLeadershipTransfer",
]);

const adminPaths: ReadonlySet<string> = new Set([
  ...[...adminVolumeMethods].map((m) => `/${volumeServerServiceName}/${m}`),
  ...[...adminMasterMethods].map((m) => `/${masterServiceName}/${m}`),
]);

const AUTHORIZATION = "authorization";

let processAdminKey: AdminTokenKey | undefined;

/** The key this process's admin calls are signed with: set once at start by a master or the shell. */
export function installProcessAdminKey(key: AdminTokenKey): void {
  processAdminKey = key;
}

/** Adds a fresh admin token to the process's admin calls (see adminPaths); others pass untouched. */
export const adminCallInterceptor: grpc.Interceptor = (options, nextCall) => {
  const key = processAdminKey;
  if (key === undefined || !adminPaths.has(options.method_definition.path))
    return new InterceptingCall(nextCall(options));
  return new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      // Minting cannot fail short of a broken crypto library; then the call goes without a token
      // and the server's UNAUTHENTICATED says what is missing.
      void key.authorization().then(
        (auth) => {
          metadata.set(AUTHORIZATION, auth);
          next(metadata, listener);
        },
        () => next(metadata, listener),
      );
    },
  });
};

/** A server call as far as the admin check reads it. */
export interface AdminCheckedCall {
  metadata: grpc.Metadata;
  getAuthContext(): PeerAuthContext | null;
}

/**
 * Resolves when the call holds the admin credential: a client certificate with an admin name, or a
 * valid admin token in its metadata; throws TokenRefused otherwise.
 */
export function checkAdminCall(admin: AdminCredential, call: AdminCheckedCall): Promise<void> {
  const v = call.metadata.get(AUTHORIZATION)[0];
  return admin.check({
    authorization: typeof v === "string" ? v : undefined,
    commonName: peerCommonName(call.getAuthContext()),
  });
}
