/**
 * What a run must undo if it is stopped: every temporary directory and container an edge
 * creates is registered here while it exists. On SIGINT or SIGTERM the CLI runs them all
 * (synchronously, newest first) and exits 130 or 143; on a normal exit each owner has already
 * removed its own and unregistered it.
 */
const pending = new Set<() => void>();

/** Registers an undo step; returns the function that unregisters it (call it once the thing is gone). */
export function onCleanup(undo: () => void): () => void {
  pending.add(undo);
  return () => {
    pending.delete(undo);
  };
}

/** Runs every registered undo step, newest first; never throws. */
export function runCleanups(): number {
  const steps = [...pending].reverse();
  pending.clear();
  for (const undo of steps) {
    try {
      undo();
    } catch {
      /* best effort: the next step still runs */
    }
  }
  return steps.length;
}

export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** On SIGINT/SIGTERM: say so (one line), undo what is registered, exit 128+signal. */
export function cleanUpOnSignals(say: (signal: keyof typeof SIGNAL_EXIT) => void): void {
  for (const signal of Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]) {
    process.once(signal, () => {
      say(signal);
      runCleanups();
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
}
