#!/usr/bin/env node
// The weed-ts command. The TypeScript is compiled to dist/ by `npm ci` (the prepare script).
// First: V8 settings that must be in place before the rest of weed-ts loads (src/cli/v8-tuning.ts).
import "../dist/cli/v8-tuning.js";
import { main } from "../dist/cli/main.js";

/**
 * How often a weed-ts started by npm looks whether its parent is still there: a stop through
 * `npx`/`npm exec` then takes at most this much longer than a direct SIGTERM (drain: 10 s).
 */
const parentWatchIntervalMs = 250;

/**
 * `npx weed-ts ...` and `npm exec`/`npm run` start us through `sh -c`; on SIGTERM or SIGINT npm
 * passes the signal to that shell, which dies without passing it on, so the server was left
 * running as an orphan under a supervisor that believed it stopped. Started by npm (it sets
 * npm_lifecycle_event), our parent going away means what SIGTERM means: drain and stop. A server
 * started otherwise (nohup, setsid, a unit file) is left alone when its parent exits.
 */
function stopWhenNpmParentExits() {
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, parentWatchIntervalMs);
  timer.unref();
}

stopWhenNpmParentExits();
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
