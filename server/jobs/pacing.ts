/**
 * Pacing for long synchronous work on a shared event loop. The search indexer walks and tokenises a
 * recording 4 MiB at a time; where the worker shares its process with the SSH proxy (`npm start` runs
 * every role in one process) each such step held up every relayed keystroke and cut notice — measured
 * on this machine: 4 MiB of log-like output took ~110–130 ms in one go (walking 12–16 ms, tokenising
 * 90–113 ms), base64 text ~50–70 ms.
 *
 * `pacer(sliceMs)` gives a function to call between small units of work (a cast line, a segment): it
 * returns undefined (go on) until `sliceMs` of work has passed since the last yield, then a promise that
 * resolves after the event loop's other callbacks have run (setImmediate). Awaiting only what it returns
 * keeps the loop free of a promise per unit.
 */
export type Pace = () => Promise<void> | undefined;

export function pacer(sliceMs = 4, now: () => number = () => performance.now()): Pace {
  let since = now();
  return () => {
    if (now() - since < sliceMs) return undefined;
    return new Promise<void>((resolve) => setImmediate(() => {
      since = now();
      resolve();
    }));
  };
}
