// Types of scripts/bench-table.mjs, for test/unit/bench-table.test.ts (the tests are type-checked;
// the scripts are plain JavaScript).

export interface Goal {
  of: "ratio" | "value";
  op: ">=" | "<=" | "<";
  target: number;
  unit?: string;
}

export declare const GOALS: Record<
  | "blobGet"
  | "blobPut"
  | "raftC1"
  | "raftC16"
  | "raftC64"
  | "failoverMedian"
  | "failoverP90"
  | "scaleCpu"
  | "scaleAssignP99"
  | "scaleReady",
  Goal
>;
export declare const RAFT_GOALS: Map<number, Goal>;

export interface BlobRow {
  round: number;
  case: string;
  server: string;
  rps: number;
  errors?: number;
}

export interface BlobFigures {
  weed: number;
  ceiling: number;
  ratio: number;
  rounds: number;
}

export interface ScaleFigures {
  cpuPercent: number | undefined;
  assignP99Ms: number | undefined;
  readyMs: number | undefined;
}

export interface RowInput {
  name: string;
  goal: Goal;
  weed?: number | undefined;
  ceiling?: number | undefined;
  ratio?: number | undefined;
  unit?: string;
  ceilingNote?: string | undefined;
  status?: string | undefined;
}

export interface Row {
  name: string;
  weed: string;
  ceiling: string;
  ratio: string;
  goal: string;
  result: string;
}

export declare function median(xs: readonly number[]): number;
export declare function percentile(xs: readonly number[], p: number): number;
export declare function parseResultLine(text: string): unknown;
export declare function parseBlobRows(text: string): BlobRow[];
export declare function blobFigures(rows: readonly BlobRow[], c: string): BlobFigures | null;
export declare function parseScale(text: string): ScaleFigures;
export declare function verdict(goal: Goal, x: number | undefined): "OK" | "MISSED" | null;
export declare function ratioOf(weed: number | undefined, ceiling: number | undefined): number | undefined;
export declare function goalText(goal: Goal): string;
export declare function figure(x: number | undefined, unit?: string): string;
export declare function makeRow(input: RowInput): Row;
export declare function formatTable(rows: readonly Row[]): string;
export declare function selectParts(all: readonly string[], only: string | undefined): string[];
export declare function failureLine(text: string): string | undefined;
export declare function parseFailoverKills(text: string): number[];
