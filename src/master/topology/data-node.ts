// The topology's tree: data center -> rack -> data node (a volume server) -> volume replicas.
// Soft state rebuilt from heartbeats; nothing here is persisted.

/** One replica of a volume on one data node, as its heartbeat reported it. */
export interface ReplicaInfo {
  id: number;
  collection: string;
  /** Decimal-packed placement byte, e.g. 1 for "001". */
  replicaPlacement: number;
  /** count<<8 | unit. */
  ttl: number;
  size: number;
  fileCount: number;
  deleteCount: number;
  deletedByteCount: number;
  readOnly: boolean;
  version: number;
  compactRevision: number;
  modifiedAtSecond: number;
  diskType: string;
  /** This replica's server reported a replicated write or delete that failed part way: not writable until checked. */
  needsCheck: boolean;
}

/** What a heartbeat says about the server itself. */
export interface NodeSpec {
  ip: string;
  port: number;
  publicUrl: string;
  grpcPort: number;
  dataCenter: string;
  rack: string;
  maxVolumes: number;
}

/** A location as lookups and assigns print it (JSON field names of SeaweedFS's operation.Location). */
export interface LocationJson {
  url: string;
  publicUrl: string;
  dataCenter: string;
  grpcPort: number;
}

export const DEFAULT_DATA_CENTER = "DefaultDataCenter";
export const DEFAULT_RACK = "DefaultRack";

export class DataNode {
  /** "ip:port": the node's identity and its internal URL. */
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly grpcPort: number;
  readonly rack: Rack;
  maxVolumes: number;
  readonly volumes = new Map<number, ReplicaInfo>();
  /** Slots promised to allocations under way, so concurrent growths do not overfill a node. */
  pendingSlots = 0;
  /** Built once: lookups and assigns hand out this object as is. */
  readonly location: Readonly<LocationJson>;

  constructor(spec: NodeSpec, rack: Rack) {
    this.ip = spec.ip;
    this.port = spec.port;
    this.id = `${spec.ip}:${spec.port}`;
    this.publicUrl = spec.publicUrl === "" ? this.id : spec.publicUrl;
    this.grpcPort = spec.grpcPort;
    this.maxVolumes = spec.maxVolumes;
    this.rack = rack;
    this.location = Object.freeze({
      url: this.id,
      publicUrl: this.publicUrl,
      dataCenter: rack.dataCenter.id,
      grpcPort: this.grpcPort,
    });
  }

  get url(): string {
    return this.id;
  }
  get dataCenter(): DataCenter {
    return this.rack.dataCenter;
  }
  /** "host:grpcPort" for gRPC calls to this volume server. */
  get grpcAddress(): string {
    return `${this.ip}:${this.grpcPort}`;
  }
  get freeSlots(): number {
    return Math.max(0, this.maxVolumes - this.volumes.size - this.pendingSlots);
  }
}

export class Rack {
  readonly nodes = new Map<string, DataNode>();
  constructor(
    readonly id: string,
    readonly dataCenter: DataCenter,
  ) {}

  get freeSlots(): number {
    let n = 0;
    for (const dn of this.nodes.values()) n += dn.freeSlots;
    return n;
  }
}

export class DataCenter {
  readonly racks = new Map<string, Rack>();
  constructor(readonly id: string) {}

  get freeSlots(): number {
    let n = 0;
    for (const r of this.racks.values()) n += r.freeSlots;
    return n;
  }
}
