/**
 * Minimum-cost assignment of rows to columns (scipy's `linear_sum_assignment`), used to match
 * mask tokens to ground-truth classes. The algorithm is the `munkres` package's (Munkres /
 * Hungarian, O(n³), rectangular matrices, zero dependencies, typed); this wrapper checks the
 * matrix and returns scipy's shape of answer: pairs sorted by row.
 *
 * ```ts
 * linearSumAssignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]]); // { rows: [0, 1, 2], cols: [1, 0, 2] } (cost 5)
 * ```
 */
import { munkres } from 'munkres';

export interface Assignment {
  readonly rows: number[];
  readonly cols: number[];
}

export function linearSumAssignment(cost: readonly (readonly number[])[]): Assignment {
  const rows = cost.length;
  if (rows === 0) return { rows: [], cols: [] };
  const cols = cost[0]!.length;
  cost.forEach((row, r) => {
    if (row.length !== cols) throw new Error(`linearSumAssignment: row ${r} has ${row.length} columns, row 0 has ${cols}`);
    row.forEach((v, c) => {
      if (!Number.isFinite(v)) throw new Error(`linearSumAssignment: cost[${r}][${c}] is ${v}; costs must be finite`);
    });
  });
  if (cols === 0) return { rows: [], cols: [] };
  const pairs = munkres(cost as number[][]).sort((a, b) => a[0] - b[0]);
  return { rows: pairs.map((p) => p[0]), cols: pairs.map((p) => p[1]) };
}
