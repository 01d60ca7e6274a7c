/**
 * Reduced tabular simulator families: transition-logit rows tied together (aggregated states, shared
 * dynamics). θ keeps its full layout; a tied family is the linear subspace where tied rows are equal.
 * Gradients are projected onto it (the average over a group: the chain rule through θ_full = T θ_reduced,
 * up to the group size), and maximum likelihood within it pools the counts of tied rows.
 */
import type { TabularProblem } from "./tabular.ts";

/** Members of each group: group id → list of rows (s·A + a). */
function groupsOf(rowGroups: Int32Array): Map<number, number[]> {
  const m = new Map<number, number[]>();
  rowGroups.forEach((g, row) => {
    const list = m.get(g);
    if (list) list.push(row);
    else m.set(g, [row]);
  });
  return m;
}

/** Replace each tied group of θ^f rows (or of a gradient in θ layout) by its average, in place. */
export function tieRows(
  v: Float64Array,
  problem: Pick<TabularProblem, "S" | "A" | "rowGroups">,
): Float64Array {
  const { S, rowGroups } = problem;
  if (!rowGroups) return v;
  for (const rows of groupsOf(rowGroups).values()) {
    if (rows.length < 2) continue;
    for (let s2 = 0; s2 < S; s2++) {
      let avg = 0;
      for (const row of rows) avg += v[row * S + s2] / rows.length;
      for (const row of rows) v[row * S + s2] = avg;
    }
  }
  return v;
}

/** Pool transition counts N[(s·A + a)·S + s′] over tied rows (maximum likelihood within the family). */
export function poolCounts(
  counts: Float64Array,
  problem: Pick<TabularProblem, "S" | "A" | "rowGroups">,
): Float64Array {
  const { S, rowGroups } = problem;
  const out = Float64Array.from(counts);
  if (!rowGroups) return out;
  for (const rows of groupsOf(rowGroups).values()) {
    if (rows.length < 2) continue;
    for (let s2 = 0; s2 < S; s2++) {
      let sum = 0;
      for (const row of rows) sum += counts[row * S + s2];
      for (const row of rows) out[row * S + s2] = sum;
    }
  }
  return out;
}
