// The top frames of a V8 CPU profile (node --cpu-prof writes one at exit), by self time, within an
// optional window of the profile's timeline: the scale bench profiles the leader and reports where
// its time went while the volume servers beat, not while it started.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** The .cpuprofile JSON (Chrome DevTools' Profile). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds from the previous sample (the first from startTime). */
  timeDeltas: number[];
}

export interface TopFrame {
  /** "functionName file:line" ("(anonymous)" for an unnamed function). */
  frame: string;
  selfMs: number;
  /** Share of the window's sampled time, idle and GC included. */
  percent: number;
}

function frameName(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url === "" ? "" : ` ${url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${lineNumber + 1}`;
  return `${functionName === "" ? "(anonymous)" : functionName}${file}`;
}

/**
 * The `count` frames with the most self time among the samples taken between `fromUs` and `toUs`
 * (microseconds since the profile started; the whole profile by default).
 */
export function topFrames(profile: CpuProfile, count: number, fromUs = 0, toUs = Infinity): TopFrame[] {
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const name = frameName(node);
    selfUs.set(name, (selfUs.get(name) ?? 0) + dt);
    total += dt;
  }
  return [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, us]) => ({ frame, selfMs: us / 1000, percent: total === 0 ? 0 : (100 * us) / total }));
}
