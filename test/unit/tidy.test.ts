// House rules that prettier and tsc do not check, read from the source the way TigerBeetle's
// tidy.zig does: short functions, short lines, errors classified by type or code rather than by
// their text, and the clock and randomness read only where they are injected. Each rule is a
// small function over one file's text with a self-test on a snippet, so a rule that silently
// matches nothing fails here too. A finding prints as file:line so it can be opened directly.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parse } from "@babel/parser";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/** Long enough for a function that does one thing, short enough to read without scrolling. */
const functionLinesMax = 80;
/** prettier's printWidth: what remains above it is strings and comments prettier cannot break. */
const lineColumnsMax = 120;

/**
 * Where src/ may read the real clock or global randomness: the default of an injected option, or
 * a use that has no injectable form. Every other use fails, and so does an entry no longer used.
 */
const clockAllowlist: Record<string, { uses: readonly Global[]; reason: string }> = {
  "src/grpc/adapter.ts": {
    uses: ["Date.now"],
    reason: "grpc-js takes a wall-clock deadline: Date.now() + the call's timeoutMs",
  },
  "src/raft/runtime/runtime.ts": {
    uses: ["Math.random"],
    reason: "default of RaftRuntimeOptions.randomSource (reconnect jitter, read ids, election jitter)",
  },
  "src/raft/runtime/transport.ts": {
    uses: ["Math.random"],
    reason: "default of TransportConfig.random for a transport built on its own (the runtime passes its source)",
  },
  "src/volume/heartbeat-client.ts": {
    uses: ["Math.random"],
    reason: "default of the heartbeat client's `random` option (reconnect jitter)",
  },
  "src/volume/storage/volume.ts": {
    uses: ["Date.now"],
    reason: "default of VolumeOptions.wallClockMs: needles record wall-clock times on disk",
  },
  "src/volume/volume-server.ts": {
    uses: ["Math.random", "Date.now"],
    reason:
      "defaults of VolumeServerConfig.random (which holder a read is sent to) and wallClockMs (the Last-Modified " +
      "a replicated write gives every replica)",
  },
  "src/master/master-server.ts": {
    uses: ["Math.random"],
    reason: "the master's composition root passes the real randomness to every part it wires",
  },
  "src/benchmark/benchmark.ts": {
    uses: ["Math.random"],
    reason: "default of BenchmarkOptions.random (which fid each read picks)",
  },
};

type Global = "Math.random" | "Date.now";

interface Finding {
  line: number;
  what: string;
}

interface AstNode {
  type: string;
  start?: number | null;
  end?: number | null;
  loc?: { start: { line: number }; end: { line: number } } | null;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Reading the tree

const SKIPPED_KEYS = new Set(["loc", "start", "end", "extra", "leadingComments", "trailingComments", "innerComments"]);

function isNode(v: unknown): v is AstNode {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

function children(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (SKIPPED_KEYS.has(key)) continue;
    if (Array.isArray(value)) for (const v of value) if (isNode(v)) out.push(v);
    if (isNode(value)) out.push(value);
  }
  return out;
}

/** Calls `visit` on every node with its parent, depth first. */
function walk(root: AstNode, visit: (node: AstNode, parent: AstNode | null) => void): void {
  const stack: Array<[AstNode, AstNode | null]> = [[root, null]];
  while (stack.length > 0) {
    const [node, parent] = stack.pop()!;
    visit(node, parent);
    // Reversed onto the stack so that nodes are visited in source order.
    for (const child of children(node).reverse()) stack.push([child, node]);
  }
}

function parseSource(file: string, text: string): AstNode {
  const plugins = file.endsWith(".ts") ? (["typescript"] as const) : ([] as const);
  return parse(text, { sourceType: "module", plugins: [...plugins] }) as unknown as AstNode;
}

function lineOf(node: AstNode): number {
  return node.loc?.start.line ?? 0;
}

function sourceOf(text: string, node: AstNode): string {
  return text.slice(node.start ?? 0, node.end ?? 0);
}

/** `x.name` (or `x?.name`), not computed. */
function isMember(node: unknown, name?: string): node is AstNode {
  if (!isNode(node) || (node.type !== "MemberExpression" && node.type !== "OptionalMemberExpression")) return false;
  if (node["computed"] === true) return false;
  const property = node["property"] as AstNode;
  return property.type === "Identifier" && (name === undefined || property["name"] === name);
}

function propertyName(member: AstNode): string {
  return (member["property"] as AstNode)["name"] as string;
}

function isCall(node: AstNode): boolean {
  return node.type === "CallExpression" || node.type === "OptionalCallExpression";
}

// ---------------------------------------------------------------------------------------------
// Rules

const FUNCTION_TYPES = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
  "ObjectMethod",
  "ClassMethod",
  "ClassPrivateMethod",
]);

function keyName(text: string, key: AstNode): string {
  if (key.type === "Identifier") return key["name"] as string;
  if (key.type === "PrivateName") return `#${(key["id"] as AstNode)["name"] as string}`;
  return sourceOf(text, key);
}

/** How a reader would find the function: its name, or what it is assigned or passed to. */
function functionName(text: string, fn: AstNode, parent: AstNode | null): string {
  const id = fn["id"];
  if (isNode(id)) return id["name"] as string;
  if (fn["key"] !== undefined) {
    const kind = fn["kind"];
    const name = keyName(text, fn["key"] as AstNode);
    return kind === "get" || kind === "set" ? `${kind} ${name}` : name;
  }
  if (parent === null) return "(anonymous)";
  switch (parent.type) {
    case "VariableDeclarator":
      return sourceOf(text, parent["id"] as AstNode);
    case "ClassProperty":
    case "ClassPrivateProperty":
    case "ObjectProperty":
      return keyName(text, parent["key"] as AstNode);
    case "AssignmentExpression":
      return sourceOf(text, parent["left"] as AstNode);
    case "CallExpression":
    case "OptionalCallExpression":
    case "NewExpression":
      return `callback passed to ${sourceOf(text, parent["callee"] as AstNode).slice(0, 40)}`;
    default:
      return "(anonymous)";
  }
}

/** Functions (of any form) longer than functionLinesMax, signature and closing brace included. */
export function longFunctions(file: string, text: string): Finding[] {
  const found: Finding[] = [];
  walk(parseSource(file, text), (node, parent) => {
    if (!FUNCTION_TYPES.has(node.type) || node.loc == null) return;
    const lines = node.loc.end.line - node.loc.start.line + 1;
    if (lines > functionLinesMax) {
      found.push({ line: lineOf(node), what: `${functionName(text, node, parent)} is ${lines} lines` });
    }
  });
  return found;
}

/** Lines wider than lineColumnsMax, counted in code points. */
export function longLines(text: string): Finding[] {
  const found: Finding[] = [];
  text.split("\n").forEach((line, i) => {
    const columns = [...line].length;
    if (columns > lineColumnsMax) found.push({ line: i + 1, what: `${columns} columns` });
  });
  return found;
}

const STRING_MATCHERS = new Set([
  "includes",
  "startsWith",
  "endsWith",
  "match",
  "matchAll",
  "indexOf",
  "lastIndexOf",
  "search",
]);

/** Code that classifies an error by the text of its `message` instead of its class or code. */
export function messageMatches(file: string, text: string): Finding[] {
  const found: Finding[] = [];
  const report = (node: AstNode): void => void found.push({ line: lineOf(node), what: sourceOf(text, node) });
  walk(parseSource(file, text), (node) => {
    if (isCall(node)) {
      const callee = node["callee"];
      const args = node["arguments"] as unknown[];
      // err.message.includes("…"), err.message.startsWith(…), err.message.match(/…/)
      if (isMember(callee) && STRING_MATCHERS.has(propertyName(callee)) && isMember(callee["object"], "message"))
        report(node);
      // /…/.test(err.message), /…/.exec(err.message)
      else if (
        isMember(callee) &&
        ["test", "exec"].includes(propertyName(callee)) &&
        args.some((a) => isMember(a, "message"))
      )
        report(node);
    }
    if (node.type === "BinaryExpression" && ["===", "!==", "==", "!="].includes(node["operator"] as string)) {
      if (isMember(node["left"], "message") || isMember(node["right"], "message")) report(node);
    }
    if (node.type === "SwitchStatement" && isMember(node["discriminant"], "message")) report(node);
  });
  return found;
}

/** Reads of the real clock or global randomness: `Math.random`, `Date.now`. */
export function globalsRead(file: string, text: string): Array<Finding & { global: Global }> {
  const found: Array<Finding & { global: Global }> = [];
  walk(parseSource(file, text), (node) => {
    if (!isMember(node)) return;
    const object = node["object"] as AstNode;
    if (object.type !== "Identifier") return;
    const global = `${object["name"] as string}.${propertyName(node)}`;
    if (global === "Math.random" || global === "Date.now") found.push({ line: lineOf(node), what: global, global });
  });
  return found;
}

// ---------------------------------------------------------------------------------------------
// The repository

function filesUnder(dir: string, extensions: readonly string[]): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === "src/gen" ? [] : filesUnder(path, extensions);
    return extensions.some((ext) => e.name.endsWith(ext)) ? [path] : [];
  });
}

/** Hand-written TypeScript under src/ (src/gen is generated from proto/). */
const srcFiles = (): string[] => filesUnder("src", [".ts"]);
const scriptFiles = (): string[] => filesUnder("scripts", [".mjs"]);
/** Code files; Markdown tables and transcript testdata (rendered output) keep their own widths. */
const codeFiles = (): string[] =>
  ["src", "test", "scripts"].flatMap((d) => filesUnder(d, [".ts", ".mjs", ".js", ".sh"]));

function read(file: string): string {
  return readFileSync(join(ROOT, file), "utf8");
}

function format(file: string, findings: readonly Finding[]): string[] {
  return findings.map((f) => `${relative(ROOT, join(ROOT, file))}:${f.line}: ${f.what}`);
}

function clockFindings(): string[] {
  return srcFiles().flatMap((file) => {
    const allowed = clockAllowlist[file]?.uses ?? [];
    return format(
      file,
      globalsRead(file, read(file)).filter((f) => !allowed.includes(f.global)),
    ).map((f) => `${f} (inject it, or add the file to clockAllowlist with the reason)`);
  });
}

describe("tidy", () => {
  it(`functions in src/ and scripts/ are at most ${functionLinesMax} lines`, () => {
    const found = [...srcFiles(), ...scriptFiles()].flatMap((file) => format(file, longFunctions(file, read(file))));
    expect(found).toEqual([]);
  });

  it(`lines in src/, test/ and scripts/ are at most ${lineColumnsMax} columns`, () => {
    const found = codeFiles().flatMap((file) => format(file, longLines(read(file))));
    expect(found).toEqual([]);
  });

  it("src/ branches on an error's class or code, never on its message text", () => {
    const found = srcFiles().flatMap((file) => format(file, messageMatches(file, read(file))));
    expect(found).toEqual([]);
  });

  it("src/ reads the clock and global randomness only where they are injected", () => {
    expect(clockFindings()).toEqual([]);
  });

  it("every clockAllowlist entry is still needed", () => {
    const stale = Object.entries(clockAllowlist).flatMap(([file, entry]) => {
      const used = new Set(globalsRead(file, read(file)).map((f) => f.global));
      return entry.uses.filter((g) => !used.has(g)).map((g) => `${file}: no ${g} any more`);
    });
    expect(stale).toEqual([]);
  });
});

describe("tidy rules, on snippets", () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join("\n");

  it("measures every function form, callbacks included", () => {
    const snippet = [
      `function declared() {\n${body(79)}\n}`,
      `const arrow = () => {\n${body(79)}\n};`,
      `const expr = function () {\n${body(79)}\n};`,
      `class C {\n  method() {\n${body(79)}\n  }`,
      `  get value() {\n${body(79)}\n  }`,
      `  #hidden() {\n${body(79)}\n  }\n}`,
      `const o = { m() {\n${body(79)}\n} };`,
      `items.forEach((item) => {\n${body(79)}\n});`,
      `function fits() {\n${body(78)}\n}`,
    ].join("\n");
    const names = longFunctions("x.ts", snippet).map((f) => f.what);
    expect(names.sort()).toEqual(
      [
        "declared is 81 lines",
        "arrow is 81 lines",
        "expr is 81 lines",
        "method is 81 lines",
        "get value is 81 lines",
        "#hidden is 81 lines",
        "m is 81 lines",
        "callback passed to items.forEach is 81 lines",
      ].sort(),
    );
  });

  it("parses scripts as plain JavaScript modules", () => {
    const snippet = `import { x } from "./y.mjs";\nawait main();\nasync function main() {\n${body(79)}\n}`;
    expect(longFunctions("s.mjs", snippet)).toEqual([{ line: 3, what: "main is 81 lines" }]);
  });

  it("finds lines over the width", () => {
    expect(longLines(`short\n${"x".repeat(lineColumnsMax)}\n${"y".repeat(lineColumnsMax + 1)}\n`)).toEqual([
      { line: 3, what: `${lineColumnsMax + 1} columns` },
    ]);
  });

  it("finds every way of matching on a message", () => {
    const snippet = [
      'if (err.message.includes("gone")) a();',
      'if ((err as Error).message.startsWith("x")) a();',
      "if (/refused/.test(err.message)) a();",
      'if (e.message === "boom") a();',
      "const m = err.message.match(/(\\d+)/);",
      'switch (err.message) { case "a": break; }',
      'if (err?.message?.endsWith("z")) a();',
      // Not matching: reading, logging, wrapping.
      "log.warn({ err: err.message });",
      "throw new WeedError(code, `x: ${err.message}`, { cause: err });",
      "if (err instanceof NotLeaderError || err.code === 'X') a();",
    ].join("\n");
    expect(messageMatches("x.ts", snippet).map((f) => f.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("finds the clock and randomness, not look-alikes", () => {
    const snippet = [
      "const a = Date.now();",
      "const b = Math.random();",
      "const c = opts.random ?? Math.random;",
      "const d = performance.now() + this.random() + clock.now();",
      "// Date.now in a comment is not a use",
    ].join("\n");
    expect(globalsRead("x.ts", snippet).map((f) => `${f.line} ${f.global}`)).toEqual([
      "1 Date.now",
      "2 Math.random",
      "3 Math.random",
    ]);
  });
});
