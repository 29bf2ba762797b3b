// `weed-ts master.raft -mdir=DIR dump|rewrite`: offline tools for a STOPPED master's Raft state.
// dump shows what the log holds; rewrite is the last resort when a majority of masters is lost
// for good (see src/master/state/raft-offline.ts).
import { WeedError } from "../../common/errors.js";
import { inspectRaftDir, rewriteRaftMembership, type RaftDirSummary } from "../../master/state/raft-offline.js";
import type { Membership } from "../../raft/index.js";
import type { Command, CommandIo } from "../command.js";
import { parseAddressList } from "../common-flags.js";
import { bool, str, UsageError, type FlagSpec } from "../flags.js";

const ACTIONS = ["dump", "rewrite"] as const;
type Action = (typeof ACTIONS)[number];

const masterRaftFlags: readonly FlagSpec[] = [
  // No default: pointing a recovery tool at the wrong directory by omission is worse than asking.
  { name: "mdir", type: "string", default: "", usage: "the stopped master's -mdir (required)" },
  {
    name: "peers",
    type: "string",
    default: "",
    usage:
      "rewrite: the new voters, host:port[,...] as the masters' -peers spells them, this master included. " +
      "Unsafe unless every master left out is gone for good: wipe their -mdir and re-add them, " +
      "never restart them with their old log. " +
      "Rewrite the most up-to-date survivor (compare dump's last index/term first)",
  },
  { name: "json", type: "bool", default: false, usage: "dump: print JSON" },
];

function describeMembership(m: Membership): string {
  return `voters=[${m.voters.join(",")}] learners=[${m.learners.join(",")}]`;
}

function printDump(s: RaftDirSummary, io: CommandIo): void {
  const lines = [
    `node id:        ${s.id ?? "(unknown: no master.id)"}`,
    `term:           ${s.term}`,
    `vote:           ${s.vote ?? "(none)"}`,
    `commit:         ${s.commit}`,
    `first index:    ${s.firstIndex}`,
    `last index:     ${s.lastIndex} (term ${s.lastTerm})`,
    `entries:        ${s.entries}`,
    `snapshot:       ${s.snapshot === null ? "(none)" : `index ${s.snapshot.index} term ${s.snapshot.term}`}`,
    `voters:         ${s.membership.voters.join(",") || "(none)"}`,
    `learners:       ${s.membership.learners.join(",") || "(none)"}`,
    `topologyId:     ${s.topologyId || "(not set)"}`,
    `maxVolumeId:    ${s.maxVolumeId}`,
    `fileKeyCeiling: ${s.fileKeyCeiling}`,
  ];
  io.out.write(lines.join("\n") + "\n");
}

const REWRITE_WARNING = [
  "WARNING: this is safe only if every master left out is gone for good.",
  "  Do not restart a master that was left out with its old Raft log: wipe its -mdir and add it back.",
  "  The rewritten master should have been the most up-to-date survivor (compare `dump` last index/term).",
].join("\n");

async function runAction(action: Action, mdir: string, peersText: string, json: boolean, io: CommandIo): Promise<void> {
  switch (action) {
    case "dump": {
      const s = await inspectRaftDir(mdir);
      if (json) io.out.write(JSON.stringify(s, null, 2) + "\n");
      else printDump(s, io);
      return;
    }
    case "rewrite": {
      const voters = parseAddressList("peers", peersText);
      if (voters.length === 0) throw new UsageError("rewrite needs -peers=host:port[,host:port...]: the new voters");
      const r = await rewriteRaftMembership(mdir, voters);
      if (r.id === null)
        io.err.write(
          `note: ${mdir} records no node id (master.id); ` +
            `make sure this master's -ip:-port is one of ${voters.join(",")}\n`,
        );
      io.out.write(
        [
          `rewrote ${mdir}${r.id === null ? "" : ` (node ${r.id})`}:`,
          `  membership: ${describeMembership(r.before.membership)} -> ${describeMembership(r.after.membership)}`,
          `  log: commit ${r.before.commit}, last index ${r.before.lastIndex} -> ` +
            `one snapshot at index ${r.after.snapshotIndex} (uncommitted entries included), no entries`,
          REWRITE_WARNING,
        ].join("\n") + "\n",
      );
      return;
    }
  }
}

export const masterRaftCommand: Command = {
  name: "master.raft",
  // One line: the top-level command list prints it as is. The details are in the flags' usage.
  summary:
    "Offline tools for a STOPPED master's Raft state: `-mdir=DIR dump [-json]` shows it; " +
    "`-mdir=DIR rewrite -peers=...` recovers from the permanent loss of a majority.",
  flags: masterRaftFlags,
  acceptsArguments: true,
  async run(flags, io) {
    const [action, ...extra] = flags.positional;
    if (action === undefined) throw new UsageError(`missing action: expected one of ${ACTIONS.join(", ")}`);
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`unknown action ${JSON.stringify(action)}: expected one of ${ACTIONS.join(", ")}`);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const mdir = str(flags.values, "mdir");
    if (mdir.trim() === "") throw new UsageError("flag -mdir is required: the stopped master's directory");
    const peersText = str(flags.values, "peers");
    if (action === "dump" && peersText !== "") throw new UsageError("flag -peers is for rewrite only");
    try {
      await runAction(action as Action, mdir, peersText, bool(flags.values, "json"), io);
      return 0;
    } catch (err) {
      if (err instanceof WeedError) {
        io.err.write(`weed-ts master.raft ${action}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
