/**
 * Side-by-side comparison of outer-level methods on one benchmark (issue 5): every method × seed runs to
 * its real-transition budget, reporting EvalPoints (src/outer/trace.ts); this module turns them into the
 * table (real transitions to reach each of the benchmark's thresholds — 0.9 / 0.95 / 0.99 unless it sets
 * its own —, to stay above 0.95, optionally the dip after transfer, final value, wall time; medians over
 * seeds) and median curves with a band over seeds on a common real-transition grid.
 */
import type { EvalCallback, EvalPoint, MethodRun } from "../outer/trace.ts";

export interface MethodSpec {
  name: string;
  /** One line on what the method does and with which settings. */
  description: string;
  run: (seed: number, onEval?: EvalCallback) => MethodRun;
}

export interface MethodSeedResult {
  method: string;
  seed: number;
  points: EvalPoint[];
  wallMs: number;
  finalTheta: number[];
}

export function runMethods(
  methods: MethodSpec[],
  seeds: number[],
  onDone?: (method: string, seed: number) => void,
): MethodSeedResult[] {
  const out: MethodSeedResult[] = [];
  for (const m of methods)
    for (const seed of seeds) {
      const t0 = performance.now();
      const run = m.run(seed);
      out.push({
        method: m.name,
        seed,
        points: run.points,
        wallMs: performance.now() - t0,
        finalTheta: Array.from(run.theta),
      });
      onDone?.(m.name, seed);
    }
  return out;
}

/** Real transitions at the first evaluation with normalised return ≥ thr (null if never). */
export function transitionsToReach(points: EvalPoint[], thr: number): number | null {
  return points.find((p) => p.normalized >= thr)?.realTransitions ?? null;
}

/**
 * Real transitions after which the method *stays* ≥ thr: the first evaluation from which every later one is
 * ≥ thr, counted only if the last `window` evaluations all are (null otherwise).
 */
export function transitionsToStay(points: EvalPoint[], thr: number, window = 10): number | null {
  const n = points.length;
  if (n === 0) return null;
  for (let i = Math.max(0, n - window); i < n; i++) if (points[i].normalized < thr) return null;
  let first = n - 1;
  while (first > 0 && points[first - 1].normalized >= thr) first--;
  return points[first].realTransitions;
}

/** Normalised returns the table counts real transitions to (a benchmark may set its own). */
export const DEFAULT_THRESHOLDS: readonly number[] = [0.9, 0.95, 0.99];

/** What the table reports besides the fixed columns. */
export interface TableOptions {
  /** Thresholds of the "real transitions to reach" columns, in order (default DEFAULT_THRESHOLDS). */
  thresholds?: readonly number[];
  /** Add the dip after transfer: the first evaluation's value minus the worst later one (forgetting). */
  dip?: boolean;
}

export interface TableRow {
  method: string;
  seeds: number;
  /** Per threshold (in TableOptions order): median over seeds of the real transitions to reach it (null
   * when fewer than half the seeds get there). */
  reach: { threshold: number; transitions: number | null }[];
  stay095: number | null;
  /** Median over seeds of `dipAfterTransfer` (only with TableOptions.dip). */
  dip?: number;
  finalMedian: number;
  finalMin: number;
  finalMax: number;
  totalTransitions: number;
  wallMsMedian: number;
}

/** Median where null counts as +∞ (a seed that never gets there); null if the median is +∞. */
function medianNullable(xs: (number | null)[]): number | null {
  const v = xs.map((x) => (x === null ? Number.POSITIVE_INFINITY : x)).sort((a, b) => a - b);
  const m = v.length >> 1;
  const med = v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return Number.isFinite(med) ? med : null;
}

const median = (xs: number[]) => medianNullable(xs) as number;

/**
 * The forgetting dip after transfer: the first evaluation's normalised value (the policy carried over, before
 * any real data) minus the worst later evaluation; positive when fine-tuning fell below its start, ≤ 0 when
 * it never did (0 for a single evaluation).
 */
export function dipAfterTransfer(points: EvalPoint[]): number {
  if (points.length < 2) return 0;
  return points[0].normalized - Math.min(...points.slice(1).map((p) => p.normalized));
}

export function compareTable(
  results: MethodSeedResult[],
  order: string[],
  options: TableOptions = {},
): TableRow[] {
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  return order
    .map((method) => {
      const rs = results.filter((r) => r.method === method);
      if (rs.length === 0) return null;
      const finals = rs.map((r) => r.points.at(-1)?.normalized ?? Number.NaN);
      return {
        method,
        seeds: rs.length,
        reach: thresholds.map((threshold) => ({
          threshold,
          transitions: medianNullable(rs.map((r) => transitionsToReach(r.points, threshold))),
        })),
        stay095: medianNullable(rs.map((r) => transitionsToStay(r.points, 0.95))),
        ...(options.dip ? { dip: median(rs.map((r) => dipAfterTransfer(r.points))) } : {}),
        finalMedian: median(finals),
        finalMin: Math.min(...finals),
        finalMax: Math.max(...finals),
        totalTransitions: median(rs.map((r) => r.points.at(-1)?.realTransitions ?? 0)),
        wallMsMedian: median(rs.map((r) => r.wallMs)),
      };
    })
    .filter((r): r is TableRow => r !== null);
}

const fmtT = (x: number | null) => (x === null ? "never" : Math.round(x).toLocaleString("en-US"));

export function tableMarkdown(rows: TableRow[], options: TableOptions = {}): string {
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  const cols = [
    "method",
    ...thresholds.map((t, i) => `${i === 0 ? "real transitions " : ""}to ${t.toFixed(2)}`),
    "to stay ≥ 0.95",
    ...(options.dip ? ["dip after transfer (median)"] : []),
    "final (median [min, max])",
    "real transitions used",
    "wall time",
  ];
  const head = `| ${cols.join(" | ")} |\n|${cols.map(() => "---").join("|")}|`;
  const lines = rows.map((r) => {
    const cells = [
      r.method,
      ...r.reach.map((x) => fmtT(x.transitions)),
      fmtT(r.stay095),
      ...(options.dip ? [r.dip === undefined ? "" : r.dip.toFixed(4)] : []),
      `${r.finalMedian.toFixed(4)} [${r.finalMin.toFixed(4)}, ${r.finalMax.toFixed(4)}]`,
      fmtT(r.totalTransitions),
      `${(r.wallMsMedian / 1000).toFixed(2)} s`,
    ];
    return `| ${cells.join(" | ")} |`;
  });
  return `${head}\n${lines.join("\n")}\n`;
}

/** CSV column of a threshold: 0.9 → `to090`, 0.95 → `to095`, 0.8 → `to080`. */
const reachColumn = (t: number) => `to${String(Math.round(t * 100)).padStart(3, "0")}`;

/** The table as CSV rows: one `toNNN` column per threshold, `dipMedian` when the dip is reported. */
export function tableCsvRows(rows: TableRow[]): Record<string, number | string | null>[] {
  return rows.map(({ reach, dip, ...r }) => ({
    method: r.method,
    seeds: r.seeds,
    ...Object.fromEntries(reach.map((x) => [reachColumn(x.threshold), x.transitions])),
    stay095: r.stay095,
    ...(dip === undefined ? {} : { dipMedian: dip }),
    finalMedian: r.finalMedian,
    finalMin: r.finalMin,
    finalMax: r.finalMax,
    totalTransitions: r.totalTransitions,
    wallMsMedian: r.wallMsMedian,
  }));
}

/** Value of a step curve (last evaluation at or before x; the first one before any). */
function valueAt(points: EvalPoint[], x: number): number {
  let v = points[0]?.normalized ?? Number.NaN;
  for (const p of points) {
    if (p.realTransitions > x) break;
    v = p.normalized;
  }
  return v;
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Median and interquartile range over seeds of one method's normalised return on a log-spaced grid of real
 * transitions (1 … the largest count any seed used). Methods that use no real transitions are flat lines.
 */
export function medianCurve(
  results: MethodSeedResult[],
  method: string,
  points = 60,
): { x: number[]; median: number[]; lower: number[]; upper: number[] } {
  const rs = results.filter((r) => r.method === method);
  const maxT = Math.max(1, ...results.map((r) => r.points.at(-1)?.realTransitions ?? 1));
  const x: number[] = [];
  for (let i = 0; i < points; i++) x.push(Math.round(10 ** ((Math.log10(maxT) * i) / (points - 1))));
  const uniq = [...new Set(x)];
  const med: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  for (const t of uniq) {
    const vs = rs.map((r) => valueAt(r.points, t)).sort((a, b) => a - b);
    med.push(median(vs));
    lo.push(quantile(vs, 0.25));
    hi.push(quantile(vs, 0.75));
  }
  return { x: uniq, median: med, lower: lo, upper: hi };
}
