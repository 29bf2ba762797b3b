// Synchronous cleanups (iptables chains, child processes) that must run however this process ends:
// a normal exit, a failed test, Ctrl-C or a SIGTERM from the runner. Each hook runs at most once.
type Hook = () => void;

const hooks = new Set<Hook>();
let installed = false;

function runAll(): void {
  for (const h of [...hooks]) {
    hooks.delete(h);
    try {
      h();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.kill(process.pid, sig); // our handlers are gone: the signal's default action now
}

/** Registers `hook`; returns a function that unregisters it (call it after a normal cleanup). */
export function onExitSync(hook: Hook): () => void {
  if (!installed) {
    installed = true;
    process.on("exit", runAll);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  hooks.add(hook);
  return () => hooks.delete(hook);
}
