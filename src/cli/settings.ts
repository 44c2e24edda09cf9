/** Commander's accumulator for a repeatable option (`--set a=1 --set b=2`). */
export const collect = (value: string, previous: string[]) => [...previous, value];

/** Parses `--set key=value` pairs; values are JSON when they parse as JSON, else strings. */
export function parseSettings(pairs: readonly string[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set expects key=value, got '${pair}'`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the string, and let the schema say whether a string is acceptable
    }
    settings[pair.slice(0, eq)] = value;
  }
  return settings;
}
