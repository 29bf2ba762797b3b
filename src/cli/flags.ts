// Flags in SeaweedFS (Go `flag`) style: `-port=9333`, `-port 9333`, `--port=9333`, `--port 9333`;
// a bool may stand alone (`-fsync`) or take `=true|false`. Names may contain dots
// (`-master.port`). `-h`, `-help` and `--help` ask for usage. Only src/cli reads argv.

export type FlagType = "string" | "int" | "bool" | "float";

export interface FlagSpec {
  name: string;
  type: FlagType;
  default: string | number | boolean;
  usage: string;
  /** Other names for the same flag (`-mserver` for `-master`). */
  aliases?: readonly string[];
  /** Checks a parsed value; returns an error message (without the flag name) or undefined. */
  check?: (value: string | number | boolean) => string | undefined;
}

export type FlagValues = Record<string, string | number | boolean>;

export interface ParsedFlags {
  values: FlagValues;
  /** Names the user set explicitly (so defaults derived from other flags can tell). */
  set: ReadonlySet<string>;
  positional: string[];
  help: boolean;
}

/** A bad command line: the message names the flag; the CLI prints it with the usage, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function parseValue(spec: FlagSpec, raw: string): string | number | boolean {
  switch (spec.type) {
    case "string":
      return raw;
    case "int": {
      if (!/^-?\d+$/.test(raw))
        throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${spec.name}: not an integer`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n))
        throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${spec.name}: out of range`);
      return n;
    }
    case "float": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${spec.name}: not a number`);
      return n;
    }
    case "bool": {
      const v = raw.toLowerCase();
      if (v === "true" || v === "1" || v === "t") return true;
      if (v === "false" || v === "0" || v === "f") return false;
      throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${spec.name}: expected true or false`);
    }
  }
}

export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  opts: { endAtArgument?: boolean } = {},
): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(a, s);
  }
  const values: FlagValues = {};
  for (const s of specs) values[s.name] = s.default;
  const set = new Set<string>();
  const positional: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (opts.endAtArgument === true) {
        positional.push(...argv.slice(i));
        break;
      }
      positional.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === "h" || name === "help") {
      help = true;
      continue;
    }
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(`flag provided but not defined: -${name}`);
    let raw: string;
    if (eq >= 0) raw = body.slice(eq + 1);
    else if (spec.type === "bool") raw = "true";
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag needs an argument: -${name}`);
      raw = next;
      i++;
    }
    const value = parseValue(spec, raw);
    const problem = spec.check?.(value);
    if (problem !== undefined)
      throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${spec.name}: ${problem}`);
    values[spec.name] = value;
    set.add(spec.name);
  }
  return { values, set, positional, help };
}

export function formatUsage(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = [`Usage: weed-ts ${command} [flags]`, "", summary, "", "Flags:"];
  for (const s of specs) {
    const names = [s.name, ...(s.aliases ?? [])].map((n) => `-${n}`).join(", ");
    const typ = s.type === "bool" ? "" : ` ${s.type}`;
    const def = s.default === "" || s.default === false ? "" : ` (default ${JSON.stringify(s.default)})`;
    lines.push(`  ${names}${typ}`, `        ${s.usage}${def}`);
  }
  return lines.join("\n") + "\n";
}

// Typed accessors: the CLI turns FlagValues into typed configs in one place per command.
export function str(v: FlagValues, name: string): string {
  const x = v[name];
  if (typeof x !== "string") throw new Error(`flag -${name} is not a string`);
  return x;
}
export function int(v: FlagValues, name: string): number {
  const x = v[name];
  if (typeof x !== "number") throw new Error(`flag -${name} is not a number`);
  return x;
}
export function bool(v: FlagValues, name: string): boolean {
  const x = v[name];
  if (typeof x !== "boolean") throw new Error(`flag -${name} is not a bool`);
  return x;
}

// Common checks.
export const portCheck = (v: string | number | boolean): string | undefined =>
  typeof v === "number" && v >= 1 && v <= 65535 ? undefined : "a port must be 1-65535";
export const optionalPortCheck = (v: string | number | boolean): string | undefined =>
  v === 0 ? undefined : portCheck(v);
export const positiveCheck = (v: string | number | boolean): string | undefined =>
  typeof v === "number" && v > 0 ? undefined : "must be greater than 0";
export const nonNegativeCheck = (v: string | number | boolean): string | undefined =>
  typeof v === "number" && v >= 0 ? undefined : "must not be negative";
export const nonEmptyCheck = (v: string | number | boolean): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? undefined : "must not be empty";
