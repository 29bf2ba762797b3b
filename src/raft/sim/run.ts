// Entry points for running simulations: one seed, or a block of seeds (scripts/sim.mjs and the
// vitest block both call these). A run is asynchronous (the runtimes' promise chains run between
// simulated instants) but depends on its seed alone.
import { describeOptions, optionsFromSeed, type SimOptions } from "./options.js";
import { type SimResult, Simulation, type TraceSink } from "./simulation.js";

export async function runSeed(
  seed: number,
  overrides: Partial<SimOptions> = {},
  trace: TraceSink | null = null,
): Promise<SimResult> {
  const opts = optionsFromSeed(seed, overrides);
  if (trace !== null) for (const line of describeOptions(opts).split("\n")) trace(`# ${line}`);
  return new Simulation(opts, trace).run();
}

export interface BlockResult {
  readonly ran: number;
  readonly passed: number;
  readonly failure: SimResult | null;
  readonly elapsedMs: number;
}

/** Run seeds first..first+count-1, stopping at the first failure. */
export async function runSeeds(
  first: number,
  count: number,
  overrides: Partial<SimOptions> = {},
  onResult?: (r: SimResult) => void,
): Promise<BlockResult> {
  const started = performance.now();
  let ran = 0;
  let passed = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = await runSeed(seed, overrides);
    ran++;
    onResult?.(r);
    if (!r.ok) return { ran, passed, failure: r, elapsedMs: performance.now() - started };
    passed++;
  }
  return { ran, passed, failure: null, elapsedMs: performance.now() - started };
}

export { describeOptions, optionsFromSeed };
export type { SimOptions, SimResult };
