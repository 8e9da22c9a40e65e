/**
 * What a run must undo if it is stopped: every temporary directory and container an edge
 * creates is registered here while it exists. On SIGINT or SIGTERM the CLI runs them all
 * (synchronously, newest first) and exits 130 or 143, and likewise 141 when its stdout or stderr
 * is closed under it (`| head`); on a normal exit each owner has already removed its own and
 * unregistered it.
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

/** Exit code when stdout or stderr is closed under the run: 128 + SIGPIPE, as a shell tool's. */
export const BROKEN_PIPE_EXIT = 141;

/**
 * stdout or stderr closed by the reader (`mcp-rewrap build … | head -1`): Node ignores SIGPIPE and
 * reports EPIPE on the stream, which would otherwise end the run with a stack trace and nothing
 * undone. Undo what is registered and exit 141; nothing can be said (stderr may be the one gone).
 */
export function cleanUpOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
      runCleanups();
      process.exit(BROKEN_PIPE_EXIT);
    });
  }
}
