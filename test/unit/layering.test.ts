// The layers of src/, read from the import statements: each folder may import only the folders
// below it. A newcomer can then trust the folder names (src/raft knows nothing of masters; the
// master's replicated state knows nothing of heartbeats or HTTP), and a later change that breaks
// a rule fails here instead of growing a cycle.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

/**
 * Layer of a file: its folder under src/, and for the master its wing (state, topology, api) or
 * "master" for the composition root and its shared limits.
 */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split("/");
  if (parts[0] === "master") {
    if (parts.length === 2) return parts[1] === "limits.ts" ? "master/limits" : "master";
    return `master/${parts[1]!}`;
  }
  return parts.length === 1 ? "." : parts[0]!;
}

const BASE = ["common", "gen", "grpc"];
/** Layer -> the layers it may import (itself always). */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  gen: [],
  grpc: ["common"],
  raft: BASE,
  volume: BASE,
  benchmark: ["common"],
  "master/limits": ["common"],
  "master/state": [...BASE, "raft", "master/limits"],
  "master/topology": [...BASE, "master/limits", "master/state"],
  "master/api": [...BASE, "raft", "master/limits", "master/state", "master/topology"],
  // Replica repair (check, copy, trim): run by the leader in the background and by the shell.
  "master/repair": [...BASE, "master/limits", "master/topology"],
  master: [...BASE, "raft", "master/limits", "master/state", "master/topology", "master/api", "master/repair"],
  cli: ["*"],
  ".": ["*"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** Relative module specifiers of static imports, re-exports and dynamic imports. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm))
    out.push(m[1]!);
  return out;
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      found.push(`${relative(SRC, file)}: folder ${from} has no rule in ALLOWED`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
      if (!target.startsWith(SRC + "/")) {
        found.push(`${relative(SRC, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (to !== from && !allowed.includes("*") && !allowed.includes(to)) {
        found.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  }
  return found;
}

describe("layering", () => {
  it("every import in src/ goes down a layer or stays in its own", () => {
    expect(violations()).toEqual([]);
  });

  it("reads every import form, so a broken rule cannot hide", () => {
    const text = [
      'import { a } from "../x.js";',
      'import type { B } from "./y.js";',
      'export { c } from "../../z.js";',
      'import "./side-effect.js";',
      'const m = await import("../dyn.js");',
      'import { n } from "node:fs";',
    ].join("\n");
    expect(importsOf(text)).toEqual(["../x.js", "./y.js", "../../z.js", "./side-effect.js", "../dyn.js"]);
  });

  it("places files in the layers the rules name", () => {
    expect(layerOf(join(SRC, "master/state/sequencer.ts"))).toBe("master/state");
    expect(layerOf(join(SRC, "master/api/http-handlers.ts"))).toBe("master/api");
    expect(layerOf(join(SRC, "master/limits.ts"))).toBe("master/limits");
    expect(layerOf(join(SRC, "master/master-server.ts"))).toBe("master");
    expect(layerOf(join(SRC, "raft/runtime/runtime.ts"))).toBe("raft");
  });
});
