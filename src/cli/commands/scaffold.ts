// `weed-ts scaffold -config=security [-output=DIR]`: prints (or writes) a commented template, as
// `weed scaffold` does.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SCAFFOLD_CONFIGS } from "../../common/security/scaffold.js";
import type { Command } from "../command.js";
import { str, type FlagSpec } from "../flags.js";

const names = Object.keys(SCAFFOLD_CONFIGS);

const scaffoldFlags: readonly FlagSpec[] = [
  {
    name: "config",
    type: "string",
    default: "security",
    usage: `the template: ${names.join(", ")}`,
    check: (v) => (names.includes(String(v)) ? undefined : `expected one of ${names.join(", ")}`),
  },
  { name: "output", type: "string", default: "", usage: "write DIR/<config>.toml instead of printing it" },
];

export const scaffoldCommand: Command = {
  name: "scaffold",
  summary: "Prints a commented configuration template (-config=security).",
  flags: scaffoldFlags,
  async run(flags, io) {
    const name = str(flags.values, "config");
    const text = SCAFFOLD_CONFIGS[name]!;
    const dir = str(flags.values, "output");
    if (dir === "") io.out.write(text);
    else writeFileSync(join(dir, `${name}.toml`), text, { flag: "wx" });
    return 0;
  },
};
