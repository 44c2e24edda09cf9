/**
 * Lets timers and I/O run if the main thread has been busy for more than `sliceMs`.
 *
 * Items travel between stages through promise callbacks, which all run before Node gets back
 * to its event loop; a run whose stages do synchronous work would otherwise starve progress
 * bars, signals and sockets for its whole length. Yielding on every item costs ~10 µs, so
 * only yield once a slice of work has gone by.
 */
let lastTurn = performance.now();

export async function yieldToEventLoop(sliceMs = 4): Promise<void> {
  if (performance.now() - lastTurn < sliceMs) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}
