// Text renderings of messages, entries and Readies: the words the transcripts, the simulator's
// trace and log lines share. A log position is written index@term ("7@2": index 7, term 2).
import { describeMembership } from "./membership.js";
import type { Entry, HardState, Message, Ready, Snapshot } from "./types.js";

const previewBytesMax = 24;

function describeData(data: Uint8Array): string {
  const text = Buffer.from(data.subarray(0, previewBytesMax)).toString("utf8");
  const printable = /^[\x20-\x7e]*$/.test(text);
  const shown = printable
    ? JSON.stringify(text)
    : `0x${Buffer.from(data.subarray(0, previewBytesMax)).toString("hex")}`;
  return data.byteLength > previewBytesMax ? `${shown}…(${data.byteLength}B)` : shown;
}

export function describeEntry(e: Entry): string {
  switch (e.type) {
    case "normal":
      return `${e.index}@${e.term} ${describeData(e.data)}`;
    case "noop":
      return `${e.index}@${e.term} noop`;
    case "conf-change":
      return `${e.index}@${e.term} ${e.change.type} ${e.change.node}`;
  }
}

export function describeEntries(ents: readonly Entry[]): string {
  return `[${ents.map(describeEntry).join(", ")}]`;
}

export function describeSnapshot(s: Snapshot): string {
  return `snapshot ${s.meta.index}@${s.meta.term} ${describeMembership(s.meta.membership)}`;
}

export function describeHardState(h: HardState): string {
  return `term=${h.term} vote=${h.vote ?? "-"} commit=${h.commit}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "pre-vote":
      return `${head} last=${m.lastIndex}@${m.lastTerm}`;
    case "vote":
      return `${head} last=${m.lastIndex}@${m.lastTerm}${m.transfer ? " transfer" : ""}`;
    case "pre-vote-response":
    case "vote-response":
      return `${head}${m.reject ? " reject" : " granted"}`;
    case "append": {
      const entries = m.entries.length > 0 ? ` entries=${describeEntries(m.entries)}` : "";
      return `${head} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit}${entries}`;
    }
    case "append-response":
      return m.reject
        ? `${head} reject index=${m.index} hint=${m.hintIndex}@${m.hintTerm}`
        : `${head} index=${m.index}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.context === null ? "" : ` ctx=${m.context}`}`;
    case "heartbeat-response":
      return `${head}${m.context === null ? "" : ` ctx=${m.context}`}`;
    case "install-snapshot":
      return `${head} ${describeSnapshot(m.snapshot)}`;
    case "timeout-now":
      return head;
    case "read-index":
      return `${head} ctx=${m.context}`;
    case "read-index-response":
      return `${head} ctx=${m.context} index=${m.index}`;
  }
}

/** A multi-line description of a Ready, one fact per line, indented by `indent`. */
export function describeReady(rd: Ready, indent = "  "): string[] {
  const lines: string[] = [];
  if (rd.softState !== null) lines.push(`${indent}role=${rd.softState.role} leader=${rd.softState.leader ?? "-"}`);
  if (rd.hardState !== null) lines.push(`${indent}hard-state ${describeHardState(rd.hardState)}`);
  if (rd.snapshot !== null) lines.push(`${indent}persist ${describeSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) lines.push(`${indent}persist ${describeEntries(rd.entries)}`);
  if (rd.committedEntries.length > 0) lines.push(`${indent}apply ${describeEntries(rd.committedEntries)}`);
  for (const r of rd.readStates) lines.push(`${indent}read-state ctx=${r.context} index=${r.index}`);
  for (const m of rd.messages) lines.push(`${indent}send ${describeMessage(m)}`);
  return lines;
}
