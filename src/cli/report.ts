/** `sim2real report <run…> [--out DIR]`: a self-contained HTML report of recorded runs, plus one PNG per chart. */
import { InputError } from "../common/errors.ts";
import { type ReportRun, writeReport } from "../report/html.ts";
import { RunStore } from "../store/store.ts";
import { defaultStorePath } from "./context.ts";

export interface ReportOptions {
  /** Run store path; default $SIM2REAL_STORE or ./sim2real-runs/store.db. */
  store?: string;
  /** Output directory; default `sim2real-report`. */
  out?: string;
  quiet?: boolean;
}

export const DEFAULT_REPORT_DIR = "sim2real-report";

/** Read the runs (ids or unique id prefixes) from the store, read-only, in the order given; duplicates once. */
export function loadReportRuns(store: RunStore, runIds: string[]): ReportRun[] {
  const runs: ReportRun[] = [];
  const seen = new Set<string>();
  for (const idOrPrefix of runIds) {
    const run = store.getRun(idOrPrefix);
    if (seen.has(run.id)) continue;
    seen.add(run.id);
    runs.push({
      id: run.id,
      experiment: run.experiment,
      status: run.status,
      seed: run.seed,
      createdAt: run.createdAt,
      config: run.config,
      metrics: store.metrics(run.id),
    });
  }
  return runs;
}

/** Writes `<out>/report.html` and the chart PNGs; prints the report's path on stderr unless quiet. */
export async function reportCommand(runIds: string[], opts: ReportOptions = {}): Promise<string> {
  if (runIds.length === 0) throw new InputError("give at least one run id (see `sim2real runs`)", "run");
  const store = RunStore.open(opts.store ?? defaultStorePath(), { readonly: true });
  let runs: ReportRun[];
  try {
    runs = loadReportRuns(store, runIds);
  } finally {
    store.close();
  }
  const path = await writeReport(runs, opts.out ?? DEFAULT_REPORT_DIR);
  if (!opts.quiet) process.stderr.write(`${path}\n`);
  return path;
}
