/** How long synchronous work may hold the event loop before it lets timers and signals in. */
const HOLD_MS = 100;
let lastPause = performance.now();

/**
 * Long synchronous loops (an epoch of the DNN fast path) starve the event loop: no heartbeat,
 * and Ctrl-C waits until training ends. Called once per batch, this returns a pause (one
 * setImmediate) at most every HOLD_MS and undefined otherwise, so the common call costs a clock read:
 * `const pause = breathe(); if (pause) await pause;`.
 */
export function breathe(): Promise<void> | undefined {
  const now = performance.now();
  if (now - lastPause < HOLD_MS) return undefined;
  lastPause = now;
  return new Promise((resolve) => setImmediate(resolve));
}
