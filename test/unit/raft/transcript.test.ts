// Transcript tests: every testdata/*.txt is a script of "> command" lines, each followed by the
// output the command must produce (see interaction-env.ts for the commands and describe.ts for
// the rendering; a log position is index@term). Lines starting with "#" are comments.
//
// When behaviour changes on purpose, regenerate the expected output and review the diff:
//   REWRITE=1 npx vitest run test/unit/raft/transcript.test.ts
// Commit a rewrite only if you understand every changed line.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InteractionEnv } from "./interaction-env.js";

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const REWRITE = process.env["REWRITE"] === "1";

interface Block {
  comments: string[];
  command: string;
  expected: string[];
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  let comments: string[] = [];
  let current: Block | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("> ")) {
      current = { comments, command: line.slice(2).trim(), expected: [] };
      blocks.push(current);
      comments = [];
    } else if (line.startsWith("#")) {
      comments.push(line);
      current = null;
    } else if (line.trim() === "") {
      if (comments.length > 0) comments.push("");
    } else if (current !== null) {
      current.expected.push(line);
    } else {
      throw new Error(`output line outside a command block: ${line}`);
    }
  }
  return blocks;
}

function render(blocks: readonly Block[]): string {
  const parts: string[] = [];
  for (const b of blocks) {
    const comments = [...b.comments];
    while (comments.length > 0 && comments[comments.length - 1] === "") comments.pop();
    parts.push([...comments, `> ${b.command}`, ...b.expected].join("\n"));
  }
  return `${parts.join("\n\n")}\n`;
}

const files = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".txt"))
  .sort();

describe("raft transcripts (testdata/*.txt)", () => {
  for (const file of files) {
    it(file, () => {
      const path = join(TESTDATA, file);
      const blocks = parse(readFileSync(path, "utf8"));
      const env = new InteractionEnv();
      const actual = blocks.map((b) => ({ ...b, expected: env.run(b.command) }));
      if (REWRITE) {
        writeFileSync(path, render(actual));
        return;
      }
      for (let i = 0; i < blocks.length; i++) {
        const want = blocks[i];
        const got = actual[i];
        if (want === undefined || got === undefined) continue;
        expect(got.expected.join("\n"), `${file}: > ${want.command}`).toBe(want.expected.join("\n"));
      }
    });
  }
});
