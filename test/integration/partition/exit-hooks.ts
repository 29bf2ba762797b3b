// Synchronous cleanups (iptables chains, child processes) that must run however this process ends:
// a normal exit, a failed test, Ctrl-C or a SIGTERM from the runner, or the runner itself gone.
// Each hook runs at most once.
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
    // A test runner's worker whose parent died (its IPC channel closes) may run on as an orphan:
    // its hosts and iptables rules must not outlive the run that wanted them.
    process.on("disconnect", runAll);
  }
  hooks.add(hook);
  return () => hooks.delete(hook);
}
