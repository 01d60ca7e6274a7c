/**
 * `sim2real runs` (the runs in a store, newest first) and `sim2real show <run>` (one run in detail).
 * Both open the store read-only: they never create, migrate or change it. Store: --store, else
 * $SIM2REAL_STORE, else ./sim2real-runs/store.db.
 */
import { type RunRow, type RunStatus, RunStore } from "../store/store.ts";
import { defaultStorePath } from "./context.ts";

export interface RunsOptions {
  store?: string;
  experiment?: string;
  status?: RunStatus;
  limit?: number;
  json?: boolean;
}

export interface ShowOptions {
  store?: string;
  json?: boolean;
}

/**
 * JSON for the CLI: NaN and ±Infinity become the strings "NaN", "Infinity", "-Infinity" (JSON has no such
 * numbers), typed arrays become arrays, bigints strings.
 */
export function cliJson(x: unknown, indent?: number): string {
  return JSON.stringify(
    x,
    (_k, v: unknown) => {
      if (typeof v === "number" && !Number.isFinite(v)) return String(v);
      if (typeof v === "bigint") return v.toString();
      if (ArrayBuffer.isView(v) && !(v instanceof DataView))
        return Array.from(v as unknown as ArrayLike<number | bigint>, (e) =>
          typeof e === "bigint" ? e.toString() : e,
        );
      return v;
    },
    indent,
  );
}

function withStore<T>(path: string | undefined, fn: (s: RunStore) => T): T {
  const store = RunStore.open(path ?? defaultStorePath(), { readonly: true });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** `2025-01-31T12:34:56.789Z` → `2025-01-31 12:34:56Z`. */
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

function runSummaryRow(r: RunRow, transitions: number, lastStep: number | null) {
  const { config: _config, ...rest } = r;
  return { ...rest, transitions, lastStep };
}

export function runsCommand(o: RunsOptions): void {
  const path = o.store ?? defaultStorePath();
  const rows = withStore(path, (s) =>
    s.listRuns({ experiment: o.experiment, status: o.status, limit: o.limit }).map((r) => {
      const sum = s.summary(r.id);
      return runSummaryRow(r, sum.transitions, sum.lastStep);
    }),
  );
  if (o.json) {
    process.stdout.write(`${cliJson(rows, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no runs in ${path}\n`);
    return;
  }
  process.stdout.write(
    table(
      ["ID", "EXPERIMENT", "STATUS", "SEED", "CREATED", "REAL TRANSITIONS", "LAST STEP"],
      rows.map((r) => [
        r.id,
        r.experiment,
        r.status,
        String(r.seed),
        when(r.createdAt),
        String(r.transitions),
        r.lastStep === null ? "-" : String(r.lastStep),
      ]),
    ),
  );
}

export function showCommand(id: string, o: ShowOptions): void {
  const detail = withStore(o.store, (s) => {
    const run = s.getRun(id);
    const sum = s.summary(run.id);
    return {
      run,
      counts: { metrics: sum.metrics, transitions: sum.transitions, checkpoints: sum.checkpoints },
      lastCheckpoint: sum.lastCheckpoint,
      lastMetrics: s.lastMetrics(run.id),
    };
  });
  if (o.json) {
    process.stdout.write(`${cliJson(detail, 2)}\n`);
    return;
  }
  const { run, counts, lastCheckpoint, lastMetrics } = detail;
  const out: string[] = [
    `run         ${run.id}`,
    `experiment  ${run.experiment}`,
    `status      ${run.status}${run.error === null ? "" : ` (${run.error})`}`,
    `seed        ${run.seed}`,
    `version     ${run.version}${run.commit === null ? "" : ` (commit ${run.commit})`}`,
    `command     sim2real ${run.command.join(" ")}`,
    `created     ${when(run.createdAt)}`,
    `updated     ${when(run.updatedAt)}`,
    `stored      ${counts.metrics} metric values, ${counts.transitions} real transitions, ${counts.checkpoints} checkpoints`,
    `checkpoint  ${lastCheckpoint === null ? "none" : `trial ${lastCheckpoint.trial}, iteration ${lastCheckpoint.iteration}`}`,
    "config",
    ...cliJson(run.config, 2)
      .split("\n")
      .map((l) => `  ${l}`),
  ];
  if (lastMetrics.length === 0) out.push("metrics     none");
  else {
    out.push("last metrics");
    let trial = -1;
    const keyWidth = Math.max(...lastMetrics.map((m) => m.key.length));
    for (const m of lastMetrics) {
      if (m.trial !== trial) {
        trial = m.trial;
        out.push(`  trial ${trial}`);
      }
      out.push(`    ${m.key.padEnd(keyWidth)}  ${m.value}  (step ${m.step})`);
    }
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
