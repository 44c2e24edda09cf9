/**
 * Colours shared by the Mermaid, DOT and HTML exports, so a legend drawn in one matches the
 * diagram drawn by another: blue for the main thread, amber for the tensor worker.
 */
export const palette = {
  main: { fill: '#dce8f9', stroke: '#4a6fa5' },
  worker: { fill: '#ffdfb0', stroke: '#b26a00' },
  /** The background of a worker-segment cluster. */
  segment: { fill: '#fff7ea', stroke: '#d9a441' },
} as const;
