// Property tests run from one fixed seed, so `npm test` is deterministic: a red CI run means a
// change broke something, not that a random draw found an old bug. To explore new inputs, run
// with FC_SEED=random (each test file draws its own seed; a failing property prints it, and
// FC_SEED=<that seed> replays it).
import fc from "fast-check";

const fromEnv = process.env.FC_SEED;
const seed =
  fromEnv === "random"
    ? Math.floor(Math.random() * 2 ** 31)
    : fromEnv !== undefined && fromEnv !== ""
      ? Number(fromEnv)
      : 20_261_122;
if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED=${fromEnv}: expected "random" or an integer`);
fc.configureGlobal({ seed });
