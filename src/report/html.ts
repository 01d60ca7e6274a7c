/**
 * Self-contained HTML reports of recorded runs: every chart is inline SVG (rendered by {@link lineChartSvg}),
 * styles are inline, and nothing is fetched (no scripts, fonts, images or links to other origins), so the
 * file can be mailed or archived on its own. Several runs are overlaid in the same charts for comparison.
 * {@link writeReport} also writes each chart as a PNG next to the HTML.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toJson } from "./files.ts";
import {
  DEFAULT_LEGEND_LABEL_LIMIT,
  dejaVuTextWidth,
  LEGEND_LABEL_FONT_SIZE,
  type LineChartSpec,
  lineChartSvg,
  type Series,
  svgToPng,
  TABLEAU10,
} from "./plot.ts";

/** One metric sample as the run store keeps it: `key` at outer iteration `step` of trial `trial`. */
export interface MetricRow {
  trial: number;
  step: number;
  key: string;
  value: number;
}

/** A recorded run, as the report needs it. */
export interface ReportRun {
  id: string;
  experiment: string;
  status: string;
  seed: number;
  createdAt: string;
  /** The resolved config; shown pretty-printed (escaped) in the report. */
  config: unknown;
  metrics: MetricRow[];
}

export interface ReportChart {
  /** File-name-safe, unique within the report (the PNG is `<name>.png`). */
  name: string;
  /** Standalone SVG document. */
  svg: string;
}

export interface RenderReportOptions {
  title?: string;
}

/** At most this many θ components are drawn per run. */
export const MAX_THETA_COMPONENTS = 12;
/** At most this many trials are drawn in a run's θ chart (each trial multiplies the lines). */
export const MAX_THETA_TRIALS = 4;

const TRANSITIONS_KEY = "real/transitions";
/** Dash patterns told apart at a glance; trials cycle through them. */
const DASHES: number[][] = [
  [1, 0],
  [7, 4],
  [2, 3],
  [10, 3, 2, 3],
  [4, 2, 1, 2],
];
/** Tableau 10 and two more, for up to 12 θ components. */
const PALETTE = [...TABLEAU10, "#1f3a5f", "#8c564b"];
/** Legends whose longest label is wider than this (px) go below the plot. */
const BOTTOM_LEGEND_FROM = 150;
/** Legend labels longer than this are cut with "…" (the chart grows by what the legend gains up to it). */
const MAX_LEGEND_LABEL = 400;
/** A series "spans orders of magnitude" (log axis) when all its values are positive and max/min ≥ this. */
const LOG_SPAN = 100;

// --- Escaping ------------------------------------------------------------------------------------------

/** Escape text for HTML element content and (double- or single-quoted) attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// --- Metrics --------------------------------------------------------------------------------------------

/** key → trial → points sorted by step (the last row wins when a (trial, step, key) repeats). */
type Tracks = Map<string, Map<number, { step: number; value: number }[]>>;

function tracksOf(rows: MetricRow[]): Tracks {
  const byKey = new Map<string, Map<number, Map<number, number>>>();
  for (const r of rows) {
    let trials = byKey.get(r.key);
    if (!trials) {
      trials = new Map();
      byKey.set(r.key, trials);
    }
    let steps = trials.get(r.trial);
    if (!steps) {
      steps = new Map();
      trials.set(r.trial, steps);
    }
    steps.set(r.step, r.value);
  }
  const out: Tracks = new Map();
  for (const [key, trials] of byKey) {
    const t = new Map<number, { step: number; value: number }[]>();
    for (const trial of [...trials.keys()].sort((a, b) => a - b)) {
      const pts = [...trials.get(trial)!].map(([step, value]) => ({ step, value }));
      t.set(
        trial,
        pts.sort((a, b) => a.step - b.step),
      );
    }
    out.set(key, t);
  }
  return out;
}

interface PreparedRun {
  run: ReportRun;
  /** Short, unambiguous id for legends. */
  label: string;
  tracks: Tracks;
  trials: number[];
}

/**
 * Legend names for run ids: ids up to 12 characters stay whole; longer ones become the shortest prefix that
 * no other run shares, cut at a '-' (store ids are `yyyymmdd-hhmmss-xxxxxx`, so the date, then the time,
 * then the whole id), or at 8+ characters for ids without dashes. Each is still a valid id prefix.
 */
export function shortIds(ids: string[]): string[] {
  return ids.map((id) => {
    if (id.length <= 12) return id;
    const dashes = [...id.matchAll(/-/g)].map((m) => m.index).filter((i) => i >= 8);
    const cuts = dashes.length > 0 ? dashes : Array.from({ length: id.length - 8 }, (_, k) => k + 8);
    for (const n of cuts) {
      const p = id.slice(0, n);
      if (ids.every((o) => o === id || !o.startsWith(p))) return p;
    }
    return id;
  });
}

function prepare(runs: ReportRun[]): PreparedRun[] {
  const labels = shortIds(runs.map((r) => r.id));
  return runs.map((run, i) => {
    const tracks = tracksOf(run.metrics);
    const trials = [...new Set(run.metrics.map((m) => m.trial))].sort((a, b) => a - b);
    return { run, label: labels[i], tracks, trials };
  });
}

function keysWithPrefix(runs: PreparedRun[], prefix: string): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of r.tracks.keys()) if (k.startsWith(prefix)) keys.add(k);
  return [...keys].sort();
}

/** The return keys to plot: `real/*Normalized` or `real/normalized` (soft first), else `real/J`. */
function returnKeys(runs: PreparedRun[]): string[] {
  const normalised = keysWithPrefix(runs, "real/").filter(
    (k) => k.endsWith("Normalized") || k === "real/normalized",
  );
  const rank = (k: string) => (k === "real/softNormalized" ? 0 : k === "real/hardNormalized" ? 1 : 2);
  normalised.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (normalised.length > 0) return normalised;
  return keysWithPrefix(runs, "real/J").filter((k) => k === "real/J");
}

function describeKey(key: string): string {
  if (key === "real/softNormalized") return "soft-normalised real return";
  if (key === "real/hardNormalized") return "hard-normalised real return";
  if (key === "real/normalized") return "normalised real return";
  if (key === "real/J") return "real return J";
  if (key === TRANSITIONS_KEY) return "real transitions";
  const rest = key.slice(key.indexOf("/") + 1);
  if (key.startsWith("real/") && rest.endsWith("Normalized"))
    return `${rest.slice(0, -"Normalized".length)}-normalised real return`;
  return key;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function thetaIndex(key: string): number {
  return Number(key.slice("theta/".length));
}

function thetaKeys(r: PreparedRun): string[] {
  return [...r.tracks.keys()]
    .filter((k) => /^theta\/\d+$/.test(k))
    .sort((a, b) => thetaIndex(a) - thetaIndex(b));
}

function finiteValues(runs: PreparedRun[], key: string): number[] {
  const out: number[] = [];
  for (const r of runs)
    for (const pts of r.tracks.get(key)?.values() ?? [])
      for (const p of pts) if (Number.isFinite(p.value)) out.push(p.value);
  return out;
}

/** Log scale when every finite value is positive and they span at least {@link LOG_SPAN}. */
function logScaleFits(values: number[]): boolean {
  if (values.length < 2 || values.some((v) => v <= 0)) return false;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi / lo >= LOG_SPAN;
}

function lastFinite(pts: { value: number }[] | undefined): number | undefined {
  if (!pts) return undefined;
  for (let i = pts.length - 1; i >= 0; i--) if (Number.isFinite(pts[i].value)) return pts[i].value;
  return undefined;
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

// --- Charts ---------------------------------------------------------------------------------------------

interface ChartPlan {
  name: string;
  section: string;
  spec: LineChartSpec;
  note?: string;
}

/** One series per (run, trial) of `key` against the step, coloured by run and dashed by trial. */
function perRunTrialSeries(
  runs: PreparedRun[],
  key: string,
  x: (r: PreparedRun, trial: number) => Map<number, number> | undefined,
): Series[] {
  const multiTrial = runs.some((r) => r.trials.length > 1);
  // The experiment only when it tells runs apart, or when the series would otherwise be a bare id.
  const withExperiment =
    new Set(runs.map((r) => r.run.experiment)).size > 1 || (runs.length === 1 && !multiTrial);
  const series: Series[] = [];
  runs.forEach((r, ri) => {
    const trials = r.tracks.get(key);
    if (!trials) return;
    for (const [trial, pts] of trials) {
      const xs = x(r, trial);
      const xv: number[] = [];
      const yv: number[] = [];
      for (const p of pts) {
        const xx = xs ? xs.get(p.step) : p.step;
        if (xx === undefined || !Number.isFinite(xx) || !Number.isFinite(p.value)) continue;
        xv.push(xx);
        yv.push(p.value);
      }
      if (xv.length === 0) continue;
      // One run: the trials are told apart by colour (the run is in the title); several runs: colour is
      // the run and the dash the trial.
      const single = runs.length === 1;
      const parts = single ? [] : [r.label];
      if (withExperiment && !single) parts.push(r.run.experiment);
      if (multiTrial) parts.push(`trial ${trial}`);
      const ti = r.trials.indexOf(trial);
      series.push({
        name: parts.length > 0 ? parts.join(" · ") : `${r.run.experiment}`,
        x: xv,
        y: yv,
        color: PALETTE[(single ? ti : ri) % PALETTE.length],
        dash: single ? undefined : DASHES[ti % DASHES.length],
      });
    }
  });
  return series;
}

function transitionsOf(r: PreparedRun, trial: number): Map<number, number> | undefined {
  const pts = r.tracks.get(TRANSITIONS_KEY)?.get(trial);
  return pts ? new Map(pts.map((p) => [p.step, p.value])) : undefined;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "chart";
}

function planCharts(runs: PreparedRun[]): ChartPlan[] {
  const plans: ChartPlan[] = [];
  const iterationLabel = "outer iteration";
  const rKeys = returnKeys(runs);

  for (const key of rKeys) {
    const series = perRunTrialSeries(runs, key, () => undefined);
    if (series.length === 0) continue;
    plans.push({
      name: `return-${slug(key.slice(5))}-vs-iteration`,
      section: "Real return",
      spec: {
        title: `${capitalise(describeKey(key))} vs ${iterationLabel}`,
        xLabel: iterationLabel,
        yLabel: describeKey(key),
        series,
      },
    });
  }

  const transitions = finiteValues(runs, TRANSITIONS_KEY);
  if (transitions.some((v) => v !== 0)) {
    const logX = logScaleFits(transitions.filter((v) => v > 0)) && transitions.some((v) => v > 0);
    for (const key of rKeys) {
      const series = perRunTrialSeries(runs, key, transitionsOf);
      if (series.length === 0) continue;
      plans.push({
        name: `return-${slug(key.slice(5))}-vs-transitions`,
        section: "Real return",
        spec: {
          title: `${capitalise(describeKey(key))} vs real transitions`,
          xLabel: logX ? "real transitions (log scale)" : "real transitions",
          yLabel: describeKey(key),
          series,
          xScale: logX ? "log" : "linear",
        },
        note: logX ? "Points at zero real transitions cannot be shown on the log axis." : undefined,
      });
    }
  }

  for (const r of runs) {
    const keys = thetaKeys(r);
    if (keys.length === 0) continue;
    const shownKeys = keys.slice(0, MAX_THETA_COMPONENTS);
    const shownTrials = r.trials.slice(0, MAX_THETA_TRIALS);
    const series: Series[] = [];
    shownKeys.forEach((key, ci) => {
      const byTrial = r.tracks.get(key)!;
      shownTrials.forEach((trial, ti) => {
        const pts = (byTrial.get(trial) ?? []).filter((p) => Number.isFinite(p.value));
        if (pts.length === 0) return;
        series.push({
          name: r.trials.length > 1 ? `θ${thetaIndex(key)} · trial ${trial}` : `θ${thetaIndex(key)}`,
          x: pts.map((p) => p.step),
          y: pts.map((p) => p.value),
          color: PALETTE[ci % PALETTE.length],
          dash: DASHES[ti % DASHES.length],
        });
      });
    });
    if (series.length === 0) continue;
    const notes: string[] = [];
    if (keys.length > shownKeys.length)
      notes.push(`Showing the first ${shownKeys.length} of ${keys.length} θ components.`);
    if (r.trials.length > shownTrials.length)
      notes.push(`Showing trials ${shownTrials.join(", ")} of ${r.trials.length}.`);
    plans.push({
      name: `theta-${slug(r.label)}`,
      section: "Simulator parameters θ",
      spec: {
        title: `θ trajectory: ${r.label} (${r.run.experiment})`,
        xLabel: iterationLabel,
        yLabel: "θ component value",
        series,
      },
      note: notes.length > 0 ? notes.join(" ") : undefined,
    });
  }

  const diagnostics = (prefix: string, section: string, skip: Set<string> = new Set()) => {
    for (const key of keysWithPrefix(runs, prefix)) {
      if (skip.has(key)) continue;
      const values = finiteValues(runs, key);
      if (values.length < 2) continue;
      const series = perRunTrialSeries(runs, key, () => undefined);
      if (series.length === 0) continue;
      const logY = logScaleFits(values);
      plans.push({
        name: slug(key),
        section,
        spec: {
          title: `${describeKey(key)} vs ${iterationLabel}${logY ? " (log scale)" : ""}`,
          xLabel: iterationLabel,
          yLabel: describeKey(key),
          series,
          yScale: logY ? "log" : "linear",
        },
      });
    }
  };
  diagnostics("check/", "Sensitivity checks");
  diagnostics("outer/", "Diagnostics");
  diagnostics("inner/", "Diagnostics");
  diagnostics("real/", "Diagnostics", new Set([...rKeys, TRANSITIONS_KEY]));

  for (const p of plans) fitLegend(p.spec);
  const seen = new Set<string>();
  for (const p of plans) {
    let name = p.name;
    for (let k = 2; seen.has(name); k++) name = `${p.name}-${k}`;
    p.name = name;
    seen.add(name);
  }
  return plans;
}

/**
 * Long legend labels (run · experiment · trial) go below the plot, which keeps its full width; labels are
 * cut with "…" only beyond {@link MAX_LEGEND_LABEL}.
 */
function fitLegend(spec: LineChartSpec): void {
  const longest = Math.max(0, ...spec.series.map((s) => dejaVuTextWidth(s.name, LEGEND_LABEL_FONT_SIZE)));
  if (longest <= BOTTOM_LEGEND_FROM) return;
  spec.legendOrient = "bottom";
  spec.legendLabelLimit = Math.max(
    DEFAULT_LEGEND_LABEL_LIMIT,
    Math.min(MAX_LEGEND_LABEL, Math.ceil(longest) + 2),
  );
}

/**
 * Prepare a standalone Vega SVG for inlining next to other charts: ids (clip paths, gradients) get a
 * per-chart prefix, since ids are document-wide in HTML and every chart numbers its own from 1; the
 * namespace declarations (URLs, though never fetched) are dropped, which HTML5 inline SVG does not need.
 */
export function inlineSvg(svg: string, idPrefix: string): string {
  return svg
    .replace(/\s+xmlns(:xlink)?="[^"]*"/g, "")
    .replace(/(\bid="|url\(#|href="#)([^")]+)/g, (_m, lead: string, id: string) => `${lead}${idPrefix}${id}`);
}

// --- HTML -----------------------------------------------------------------------------------------------

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222; background: #fafafa;
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1400px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 12px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.sub { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; background: white; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { font-variant-numeric: tabular-nums; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; background: white; border: 1px solid #e2e2e2; padding: 4px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #555; padding: 4px 8px; }
details { margin: 8px 0; background: white; border: 1px solid #e2e2e2; padding: 6px 10px; }
summary { cursor: pointer; }
pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; overflow: auto;
  max-height: 600px; margin: 8px 0 0; }
`.trim();

function summaryTable(runs: PreparedRun[], rKeys: string[]): string {
  const head = ["run", "experiment", "status", "seed", "created", "trials"]
    .concat(rKeys.map((k) => `final ${describeKey(k)}`))
    .map((h) => `<th>${escapeHtml(h)}</th>`)
    .join("");
  const rows = runs.map((r) => {
    const cells = [
      `<td><code title="${escapeHtml(r.run.id)}">${escapeHtml(r.label)}</code></td>`,
      `<td>${escapeHtml(r.run.experiment)}</td>`,
      `<td>${escapeHtml(r.run.status)}</td>`,
      `<td class="num">${escapeHtml(String(r.run.seed))}</td>`,
      `<td>${escapeHtml(r.run.createdAt)}</td>`,
      `<td class="num">${r.trials.length}</td>`,
    ];
    for (const key of rKeys) {
      const trials = r.tracks.get(key);
      const parts: string[] = [];
      for (const trial of r.trials) {
        const v = lastFinite(trials?.get(trial));
        if (v === undefined) continue;
        parts.push(r.trials.length > 1 ? `trial ${trial}: ${formatNumber(v)}` : formatNumber(v));
      }
      cells.push(`<td class="num">${parts.length > 0 ? escapeHtml(parts.join(", ")) : "–"}</td>`);
    }
    return `<tr>${cells.join("")}</tr>`;
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody>\n</table>`;
}

/**
 * Render the report of `runs` (overlaid in shared charts) as one self-contained HTML document.
 * Returns the HTML and each chart as a standalone SVG, in the order they appear in the document.
 */
export async function renderReport(
  runs: ReportRun[],
  options: RenderReportOptions = {},
): Promise<{ html: string; charts: ReportChart[] }> {
  const prepared = prepare(runs);
  const plans = planCharts(prepared);
  const charts: ReportChart[] = [];
  for (const p of plans) charts.push({ name: p.name, svg: await lineChartSvg(p.spec) });

  const title =
    options.title ??
    (runs.length === 1
      ? `sim2real report: ${prepared[0].label} (${runs[0].experiment})`
      : `sim2real report: ${runs.length} runs`);
  const parts: string[] = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    "</head>",
    "<body>",
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="sub">${runs.length} run${runs.length === 1 ? "" : "s"}: ${prepared
      .map((r) => `<code>${escapeHtml(r.run.id)}</code>`)
      .join(", ")}. Steps are outer iterations.</p>`,
    "<h2>Summary</h2>",
    summaryTable(prepared, returnKeys(prepared)),
  ];
  if (plans.length === 0) parts.push("<p>No metrics were recorded for these runs.</p>");
  let section = "";
  plans.forEach((p, i) => {
    if (p.section !== section) {
      if (section !== "") parts.push("</div>");
      section = p.section;
      parts.push(`<h2>${escapeHtml(section)}</h2>`, '<div class="charts">');
    }
    parts.push(
      `<figure class="chart" id="chart-${escapeHtml(p.name)}" data-chart="${escapeHtml(p.name)}">`,
      inlineSvg(charts[i].svg, `c${i + 1}-`),
      p.note ? `<figcaption>${escapeHtml(p.note)}</figcaption>` : "",
      "</figure>",
    );
  });
  if (section !== "") parts.push("</div>");
  parts.push("<h2>Resolved configs</h2>");
  for (const r of prepared) {
    parts.push(
      "<details>",
      `<summary>${escapeHtml(`${r.run.id} (${r.run.experiment})`)}</summary>`,
      `<pre>${escapeHtml(toJson(r.run.config ?? null))}</pre>`,
      "</details>",
    );
  }
  parts.push("</body>", "</html>", "");
  return { html: parts.join("\n"), charts };
}

/**
 * Write `outDir/report.html` and `outDir/<chart>.png` for each chart (directories are created).
 * Returns the path of report.html.
 */
export async function writeReport(
  runs: ReportRun[],
  outDir: string,
  options: RenderReportOptions = {},
): Promise<string> {
  const { html, charts } = await renderReport(runs, options);
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, "report.html");
  await writeFile(path, html, "utf8");
  for (const c of charts) await writeFile(join(outDir, `${c.name}.png`), svgToPng(c.svg));
  return path;
}
