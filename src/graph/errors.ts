/** Errors that name where things went wrong: the graph, node, kind, port or item. */

export class GraphValidationError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source} is not a valid graph:\n  - ${problems.join('\n  - ')}`);
    this.name = 'GraphValidationError';
  }
}

/** A node failed while processing an item. */
export class NodeRunError extends Error {
  constructor(
    readonly node: string,
    readonly kind: string,
    readonly itemIndex: number | undefined,
    override readonly cause: unknown,
    readonly segment?: string,
  ) {
    const where = itemIndex === undefined ? '' : ` on item ${itemIndex}`;
    const seg = segment ? ` (worker segment ${segment})` : '';
    super(`node '${node}' (kind ${kind})${seg} failed${where}: ${messageOf(cause)}`);
    this.name = 'NodeRunError';
  }
}

/** A hook the run was given (onBoundary) failed: not any node's fault, so no node is named. */
export class RunHookError extends Error {
  constructor(override readonly cause: unknown) {
    super(messageOf(cause));
    this.name = 'RunHookError';
  }
}

/** The tensor worker died or could not run a segment. */
export class WorkerFailure extends Error {
  constructor(
    readonly segment: string | undefined,
    message: string,
  ) {
    super(segment ? `worker segment ${segment}: ${message}` : `tensor worker: ${message}`);
    this.name = 'WorkerFailure';
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
