/**
 * Ctrl-C and SIGTERM while work is under way: the work registered here is closed first (a run
 * marked `killed`, its temp files removed), then the process exits with the conventional code
 * (128 + the signal's number: 130 for SIGINT, 143 for SIGTERM).
 *
 * The handlers are installed only while something is registered, so commands with their own
 * graceful stop (serve, pipeline watch between runs) keep it, and with nothing registered the
 * signal does what it always did.
 */
export type InterruptSignal = 'SIGINT' | 'SIGTERM';
type Cleanup = (signal: InterruptSignal) => Promise<void> | void;

export const INTERRUPT_EXIT_CODES: Record<InterruptSignal, number> = { SIGINT: 130, SIGTERM: 143 };
/** How long the cleanups together may take before the process exits anyway. */
const CLEANUP_BOUND_MS = 10_000;

const cleanups = new Set<Cleanup>();
let stopping = false;

const handlers: Record<InterruptSignal, () => void> = {
  SIGINT: () => void interrupted('SIGINT'),
  SIGTERM: () => void interrupted('SIGTERM'),
};

async function interrupted(signal: InterruptSignal): Promise<void> {
  // A second Ctrl-C while cleaning up means "now".
  if (stopping) process.exit(INTERRUPT_EXIT_CODES[signal]);
  stopping = true;
  const work = (async () => {
    // Newest first: the innermost work (a training inside a pipeline step) is closed before its caller.
    for (const cleanup of [...cleanups].reverse()) {
      try {
        await cleanup(signal);
      } catch {
        /* the exit goes ahead; gc closes what could not be closed here */
      }
    }
  })();
  await Promise.race([work, new Promise((resolve) => setTimeout(resolve, CLEANUP_BOUND_MS).unref())]);
  process.exit(INTERRUPT_EXIT_CODES[signal]);
}

/** Runs `cleanup` if the process is interrupted before the returned function is called. */
export function onInterrupt(cleanup: Cleanup): () => void {
  if (cleanups.size === 0) for (const signal of Object.keys(handlers) as InterruptSignal[]) process.on(signal, handlers[signal]);
  cleanups.add(cleanup);
  return () => {
    if (!cleanups.delete(cleanup) || cleanups.size > 0 || stopping) return;
    for (const signal of Object.keys(handlers) as InterruptSignal[]) process.off(signal, handlers[signal]);
  };
}
