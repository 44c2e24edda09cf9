/**
 * How a user turns on a reader option from where they are: `--set NAME=VALUE` on `samflow
 * train` / `run` / `eval` (the built-in pipeline passes it to its reader), or the param itself in a graph
 * or pipeline of their own. Errors quote this, so every hint names something that can be typed.
 */
export function readerOptionHint(name: string, value = 'true'): string {
  return `--set ${name}=${value} on samflow train/run/eval (the reader param '${name}' in a graph of your own)`;
}
