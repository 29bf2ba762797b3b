// /vol/vacuum (SeaweedFS's: synchronous, answers the topology as /dir/status does, 406 for a bad
// threshold) and weed-ts's /vol/vacuum/disable and /vol/vacuum/enable (SeaweedFS's shell reaches
// the same switch over gRPC): leader routes, forwarded by followers, admin paths (http-access.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "../../common/http-util.js";
import { ErrorCode, WeedError } from "../../common/errors.js";

/** What the master's vacuum does for these routes (master/repair/vacuum.ts's Vacuumer). */
export interface VacuumControl {
  run(req: {
    garbageThreshold: number;
    collection?: string;
    volumeId?: number;
  }): Promise<readonly { volumeId: number; result: string; error?: string }[]>;
  readonly enabled: boolean;
  setEnabled(enabled: boolean): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams, pretty: boolean) => Promise<void>;

/** A threshold from the query: SeaweedFS answers 406 Not Acceptable for one it cannot use. */
function thresholdOf(q: URLSearchParams, fallback: number): number {
  const raw = q.get("garbageThreshold");
  if (raw === null || raw === "") return fallback;
  const t = Number(raw);
  if (!(Number.isFinite(t) && t > 0 && t <= 1))
    throw new WeedError(ErrorCode.BAD_PARAM, `garbageThreshold ${JSON.stringify(raw)} must be a number in (0, 1]`);
  return t;
}

function volumeIdOf(q: URLSearchParams): number | undefined {
  const raw = q.get("volumeId");
  if (raw === null || raw === "") return undefined;
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff)
    throw new WeedError(ErrorCode.BAD_PARAM, `volumeId ${JSON.stringify(raw)} is not a volume id`);
  return id;
}

export function vacuumRoutes(
  vacuum: VacuumControl,
  o: { defaultThreshold: number; status: () => object },
): [string, Handler][] {
  const vacuumNow: Handler = async (_req, res, q, pretty) => {
    const collection = q.get("collection");
    const volumeId = volumeIdOf(q);
    // A client that goes away does not stop the pass (as SeaweedFS): a compaction half done
    // would only be thrown away. Leadership ending does.
    const outcomes = await vacuum.run({
      garbageThreshold: thresholdOf(q, o.defaultThreshold),
      ...(collection === null ? {} : { collection }),
      ...(volumeId === undefined ? {} : { volumeId }),
    });
    // SeaweedFS answers the topology; weed-ts adds what the pass did to each volume it touched.
    sendJson(res, 200, { ...o.status(), Vacuumed: outcomes }, pretty);
  };
  const toggle =
    (enabled: boolean): Handler =>
    async (_req, res, _q, pretty) => {
      vacuum.setEnabled(enabled);
      sendJson(res, 200, { vacuumEnabled: vacuum.enabled }, pretty);
    };
  return [
    ["/vol/vacuum", vacuumNow],
    ["/vol/vacuum/disable", toggle(false)],
    ["/vol/vacuum/enable", toggle(true)],
  ];
}
