/**
 * Line charts for reports: a small Vega-Lite spec builder, SVG rendering with Vega (headless, no canvas)
 * and PNG rasterisation with resvg. All text uses DejaVu Sans so output looks the same on every machine
 * that has the font (Debian: `fonts-dejavu-core`).
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

// --- Text measurement -------------------------------------------------------------------------------
// Without node-canvas, Vega estimates every string as 0.8 em per character, which overestimates DejaVu
// Sans by ~30%: legends reserve too much room and long labels get truncated. We measure with the real
// advance widths of DejaVu Sans (regular/bold, from the TTF's hmtx table, units of 1/2048 em; no kerning).
// Embedding the table keeps the SVG layout identical on machines without the font file.

const DEJAVU_ASCII_REGULAR = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577,
  1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401,
  2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569,
  569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690,
  1303, 1716,
];
const DEJAVU_ASCII_BOLD = [
  713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425,
  1425, 1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700,
  1399, 1399, 1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585,
  2259, 1579, 1483, 1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702,
  702, 1362, 702, 2134, 1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458,
  748, 1458, 1716,
];
/** Common non-ASCII characters in chart labels, with their regular and bold advance widths. */
const DEJAVU_EXTRA_CHARS = "\u00a0°±²³µ·×÷–—‘’“”•…′″−≈≠≤≥∞ΔΣΩαβγδεηθκλμνπρστφχψω";
const DEJAVU_EXTRA_REGULAR = [
  651, 1024, 1716, 821, 821, 1303, 651, 1716, 1716, 1024, 2048, 651, 651, 1061, 1061, 1208, 2048, 465, 765,
  1716, 1716, 1716, 1716, 1716, 1706, 1401, 1294, 1565, 1350, 1307, 1212, 1253, 1107, 1298, 1253, 1207, 1212,
  1303, 1144, 1233, 1300, 1298, 1233, 1351, 1183, 1351, 1715,
];
const DEJAVU_EXTRA_BOLD = [
  713, 1024, 1716, 897, 897, 1507, 778, 1716, 1716, 1024, 2048, 778, 778, 1346, 1346, 1309, 2048, 540, 915,
  1716, 1716, 1716, 1716, 1716, 1706, 1585, 1399, 1741, 1407, 1466, 1395, 1407, 1140, 1458, 1407, 1455, 1296,
  1507, 1395, 1620, 1466, 1595, 1307, 1602, 1321, 1626, 1780,
];
const DEJAVU_EXTRA_MAP = new Map(
  [...DEJAVU_EXTRA_CHARS].map((c, i) => [c, [DEJAVU_EXTRA_REGULAR[i], DEJAVU_EXTRA_BOLD[i]] as const]),
);
/** Unknown glyphs: assume a digit's width. */
const DEJAVU_FALLBACK = [1303, 1425] as const;

/** Width in px of `text` set in DejaVu Sans at `fontSize` px. */
export function dejaVuTextWidth(text: string, fontSize: number, bold = false): number {
  const ascii = bold ? DEJAVU_ASCII_BOLD : DEJAVU_ASCII_REGULAR;
  const k = bold ? 1 : 0;
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 32 && code < 127) units += ascii[code - 32];
    else units += (DEJAVU_EXTRA_MAP.get(ch) ?? DEJAVU_FALLBACK)[k];
  }
  return (units / 2048) * fontSize;
}

interface TextItem {
  font?: string;
  fontSize?: number;
  fontWeight?: string | number;
}
interface VegaTextMetrics {
  width: (item: TextItem, text: unknown) => number;
}

function isBold(weight: string | number | undefined): boolean {
  if (weight === undefined) return false;
  if (typeof weight === "number") return weight >= 600;
  return weight === "bold" || weight === "bolder" || Number(weight) >= 600;
}

let metricsInstalled = false;
/**
 * Point Vega's process-global `textMetrics.width` at the DejaVu Sans table (vega-scenegraph supports a
 * user-defined width function; vl-convert does the same). Other families get Vega's own 0.8 em/char
 * estimate. Returns the untruncated width: Vega's label truncation calls this function on candidate
 * substrings, so it must not truncate (nor call Vega's `estimateWidth`, which truncates via this function).
 */
function installDejaVuTextMetrics(): void {
  if (metricsInstalled) return;
  // `textMetrics` is re-exported by vega from vega-scenegraph but missing from vega-typings.
  const tm = (vega as unknown as { textMetrics: VegaTextMetrics }).textMetrics;
  tm.width = (item, text) => {
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const s = text == null ? "" : String(text).trim();
    const family = String(item.font ?? "")
      .toLowerCase()
      .replace(/["']/g, "");
    if (!family.startsWith("dejavu sans") || family.includes("mono"))
      return Math.floor(0.8 * s.length * size);
    return dejaVuTextWidth(s, size, isBold(item.fontWeight));
  };
  metricsInstalled = true;
}

export interface Series {
  name: string;
  x: number[];
  y: number[];
  /** Optional band around the line (e.g. the spread over seeds), drawn translucent in the line's colour. */
  lower?: number[];
  upper?: number[];
  /** Line colour (CSS colour). Series without one take the Tableau 10 colour of their index. */
  color?: string;
  /** Dash pattern of the line (SVG `stroke-dasharray` lengths in px); solid when absent. */
  dash?: number[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Fixed y-axis range; lines outside it are clipped. */
  yDomain?: [number, number];
  xScale?: "linear" | "log";
  /** Log y-axis: points with y <= 0 are left out. Ignored when `yDomain` is given. Default linear. */
  yScale?: "linear" | "log";
  /** Horizontal dashed reference lines, e.g. `{ y: 0.95, label: "95%" }`. */
  rules?: { y: number; label?: string }[];
  /** Longest legend label in px before it is cut with "…". Default 240. */
  legendLabelLimit?: number;
  /**
   * Legend to the right of the plot (default), or below it in as many columns as fit: for long series
   * names, which would otherwise squeeze the plot. A bottom legend's rows are added to the default height.
   */
  legendOrient?: "right" | "bottom";
  /** Total chart width in px (including axes, legend and title). Default 640. */
  width?: number;
  /** Total chart height in px. Default 360. */
  height?: number;
}

export const CHART_FONT = "DejaVu Sans";
const DEJAVU_SANS_TTF = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEJAVU_SANS_BOLD_TTF = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 360;
/** Default {@link LineChartSpec.legendLabelLimit}; legend labels are 11 px DejaVu Sans. */
export const DEFAULT_LEGEND_LABEL_LIMIT = 240;
export const LEGEND_LABEL_FONT_SIZE = 11;
const BOTTOM_LEGEND_COLUMN_PADDING = 16;
const CHART_PADDING = 12;
const TEXT_COLOR = "#333333";
const RULE_LABEL_FONT_SIZE = 10;
/** Vega's "tableau10" scheme, for series that need explicit colours. */
export const TABLEAU10 = [
  "#4c78a8",
  "#f58518",
  "#e45756",
  "#72b7b2",
  "#54a24b",
  "#eeca3b",
  "#b279a2",
  "#ff9da6",
  "#9d755d",
  "#bab0ac",
];

/** Non-finite numbers become null so Vega breaks the line there instead of choking on NaN. */
function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Build a deterministic Vega-Lite spec (layered: series lines, then dashed reference rules with labels). */
export function lineChartVegaLite(spec: LineChartSpec): object {
  const width = spec.width ?? DEFAULT_WIDTH;
  const logX = spec.xScale === "log";
  const logY = spec.yScale === "log" && !spec.yDomain;

  const values: { series: string; x: number | null; y: number | null }[] = [];
  for (const s of spec.series) {
    if (s.x.length !== s.y.length) {
      throw new Error(`series "${s.name}": x has ${s.x.length} values but y has ${s.y.length}`);
    }
    for (let i = 0; i < s.x.length; i++) {
      const x = finiteOrNull(s.x[i]);
      // A log axis cannot show x <= 0: drop those points rather than produce an empty chart.
      if (logX && x !== null && x <= 0) continue;
      const y = finiteOrNull(s.y[i]);
      values.push({ series: s.name, x, y: logY && y !== null && y <= 0 ? null : y });
    }
  }

  const bands: { series: string; x: number; lo: number; hi: number }[] = [];
  for (const s of spec.series) {
    if (!s.lower || !s.upper) continue;
    if (s.lower.length !== s.x.length || s.upper.length !== s.x.length)
      throw new Error(`series "${s.name}": band arrays must have ${s.x.length} values`);
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i];
      if (
        !Number.isFinite(x) ||
        (logX && x <= 0) ||
        (logY && (s.lower[i] <= 0 || s.upper[i] <= 0)) ||
        !Number.isFinite(s.lower[i]) ||
        !Number.isFinite(s.upper[i])
      )
        continue;
      bands.push({ series: s.name, x, lo: s.lower[i], hi: s.upper[i] });
    }
  }

  const yScale: Record<string, unknown> = logY ? { type: "log", nice: true } : { zero: false, nice: true };
  if (spec.yDomain) {
    yScale.domain = [spec.yDomain[0], spec.yDomain[1]];
    yScale.nice = false;
  }
  const xScale: Record<string, unknown> = logX ? { type: "log" } : { zero: false, nice: false };

  const rules = spec.rules ?? [];
  // Rule labels are drawn outside the plot's right edge; push the legend past them.
  const ruleLabelWidth = Math.max(
    0,
    ...rules.map((r) => dejaVuTextWidth(r.label ?? "", RULE_LABEL_FONT_SIZE)),
  );
  const legendOffset = ruleLabelWidth > 0 ? Math.ceil(ruleLabelWidth) + 4 + 14 : 16;

  const labelLimit = spec.legendLabelLimit ?? DEFAULT_LEGEND_LABEL_LIMIT;
  let legend: Record<string, unknown> = {
    orient: "right",
    offset: legendOffset,
    symbolType: "stroke",
    symbolStrokeWidth: 2.5,
    symbolOpacity: 1,
    labelLimit,
  };
  let height = spec.height ?? DEFAULT_HEIGHT;
  if (spec.legendOrient === "bottom") {
    const longest = Math.max(0, ...spec.series.map((s) => dejaVuTextWidth(s.name, LEGEND_LABEL_FONT_SIZE)));
    // The legend starts at the plot's left edge (after the y axis, up to ~80 px) and must end inside the
    // chart: entries are the symbol (17 px), the label and, between columns, the column padding.
    const entry = 17 + Math.min(labelLimit, Math.ceil(longest));
    const available = width - 2 * CHART_PADDING - 80;
    const fit = Math.floor(
      (available + BOTTOM_LEGEND_COLUMN_PADDING) / (entry + BOTTOM_LEGEND_COLUMN_PADDING),
    );
    const columns = Math.max(1, Math.min(spec.series.length, fit));
    const rows = Math.ceil(spec.series.length / columns);
    legend = {
      ...legend,
      orient: "bottom",
      direction: "horizontal",
      offset: 10,
      columns,
      columnPadding: BOTTOM_LEGEND_COLUMN_PADDING,
      rowPadding: 3,
    };
    if (spec.height === undefined) height += rows * 16;
  }
  const domain = spec.series.map((s) => s.name);
  // Explicit colours only when a series asks for one (otherwise the spec is the plain tableau10 scheme).
  const colorScale: Record<string, unknown> = spec.series.some((s) => s.color !== undefined)
    ? { domain, range: spec.series.map((s, i) => s.color ?? TABLEAU10[i % TABLEAU10.length]) }
    : { domain, scheme: "tableau10" };
  const lineEncoding: Record<string, unknown> = {};
  if (spec.series.some((s) => s.dash !== undefined)) {
    // Same field and title as the colour channel: Vega-Lite merges the two into one legend.
    lineEncoding.strokeDash = {
      field: "series",
      type: "nominal",
      title: null,
      scale: { domain, range: spec.series.map((s) => s.dash ?? [1, 0]) },
      legend,
    };
  }
  const layers: object[] = [
    {
      data: { values },
      mark: { type: "line", strokeWidth: 2, clip: true, interpolate: "linear" },
      encoding: {
        x: {
          field: "x",
          type: "quantitative",
          title: spec.xLabel,
          scale: xScale,
          // About one tick label per 80 px (log axes pick their own decades).
          axis: { tickCount: { expr: "ceil(width / 80)" }, grid: true },
        },
        y: {
          field: "y",
          type: "quantitative",
          title: spec.yLabel,
          scale: yScale,
          axis: { tickCount: { expr: "ceil(height / 50)" }, grid: true },
        },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          // Keep the caller's series order in the legend (Vega-Lite would sort alphabetically).
          scale: colorScale,
          legend,
        },
        ...lineEncoding,
        order: { field: "x", type: "quantitative" },
      },
    },
  ];

  if (bands.length > 0) {
    // Under the lines: same colour scale (Vega-Lite merges the legends), translucent.
    layers.unshift({
      data: { values: bands },
      mark: { type: "area", opacity: 0.12, clip: true },
      encoding: {
        x: { field: "x", type: "quantitative", scale: xScale },
        y: { field: "lo", type: "quantitative", scale: yScale },
        y2: { field: "hi" },
        color: {
          field: "series",
          type: "nominal",
          scale: colorScale,
          // The merged legend takes this first layer's settings: show opaque line symbols.
          legend: { ...legend, symbolOpacity: 1 },
        },
      },
    });
  }

  if (rules.length > 0) {
    const ruleValues = rules.map((r) => ({ y: r.y, label: r.label ?? "" }));
    layers.push({
      data: { values: ruleValues },
      mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.25, color: "#666666" },
      encoding: { y: { field: "y", type: "quantitative" } },
    });
    if (ruleValues.some((r) => r.label !== "")) {
      layers.push({
        data: { values: ruleValues.filter((r) => r.label !== "") },
        // Labels sit just outside the right edge of the plot so they never collide with the lines.
        mark: {
          type: "text",
          align: "left",
          baseline: "middle",
          dx: 4,
          fontSize: RULE_LABEL_FONT_SIZE,
          color: "#555555",
        },
        encoding: {
          x: { value: "width" },
          y: { field: "y", type: "quantitative" },
          text: { field: "label", type: "nominal" },
        },
      });
    }
  }

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: spec.title, anchor: "start", offset: 12 },
    width,
    height,
    // `fit` makes width/height the size of the whole chart (axes, legend and title included).
    autosize: { type: "fit", contains: "padding" },
    padding: CHART_PADDING,
    background: "white",
    layer: layers,
    config: {
      font: CHART_FONT,
      background: "white",
      view: { stroke: "#bbbbbb" },
      title: { font: CHART_FONT, fontSize: 15, fontWeight: "bold", color: TEXT_COLOR },
      axis: {
        labelFont: CHART_FONT,
        titleFont: CHART_FONT,
        labelFontSize: 11,
        titleFontSize: 12,
        titleFontWeight: "normal",
        labelColor: TEXT_COLOR,
        titleColor: TEXT_COLOR,
        gridColor: "#e6e6e6",
        domainColor: "#888888",
        tickColor: "#888888",
        labelOverlap: true,
        labelFlush: true,
      },
      legend: {
        labelFont: CHART_FONT,
        titleFont: CHART_FONT,
        labelFontSize: LEGEND_LABEL_FONT_SIZE,
        titleFontSize: 12,
        labelColor: TEXT_COLOR,
        titleColor: TEXT_COLOR,
      },
      text: { font: CHART_FONT },
      mark: { font: CHART_FONT },
    },
  };
}

/**
 * Vega numbers clip paths and gradients with process-wide counters, so the same chart rendered twice would
 * differ. Renumber them by first appearance in this document (`clip1`, `clip2`, …; `gradient_0`, …).
 */
function normaliseDefIds(svg: string): string {
  const maps = { clip: new Map<string, number>(), gradient_: new Map<string, number>() };
  return svg.replace(
    /(id="|url\(#)(p_)?(clip|gradient_)(\d+)/g,
    (_m, lead: string, pattern: string | undefined, kind: "clip" | "gradient_", num: string) => {
      const map = maps[kind];
      let n = map.get(num);
      if (n === undefined) {
        n = map.size + (kind === "clip" ? 1 : 0);
        map.set(num, n);
      }
      return `${lead}${pattern ?? ""}${kind}${n}`;
    },
  );
}

/** Compile a Vega-Lite spec and render it to an SVG string (headless, no canvas needed). Deterministic. */
export async function renderSvg(vlSpec: object): Promise<string> {
  installDejaVuTextMetrics();
  const { spec } = compile(vlSpec as TopLevelSpec);
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  try {
    return normaliseDefIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Rasterise an SVG to PNG at `scale` times its nominal size (default 2). */
export function svgToPng(svg: string, opts: { scale?: number } = {}): Buffer {
  const scale = opts.scale ?? 2;
  const fontFiles = [DEJAVU_SANS_TTF, DEJAVU_SANS_BOLD_TTF].filter((f) => existsSync(f));
  const resvg = new Resvg(svg, {
    font: {
      loadSystemFonts: true,
      fontFiles,
      defaultFontFamily: CHART_FONT,
      sansSerifFamily: CHART_FONT,
    },
    background: "white",
    fitTo: { mode: "zoom", value: scale },
  });
  return resvg.render().asPng();
}

/** Render `spec` to a standalone SVG string (what {@link writeLineChart} writes to `basePath.svg`). */
export async function lineChartSvg(spec: LineChartSpec): Promise<string> {
  return renderSvg(lineChartVegaLite(spec));
}

/** Render `spec` and write `basePath.svg` and `basePath.png` (parent directories are created). */
export async function writeLineChart(
  spec: LineChartSpec,
  basePath: string,
): Promise<{ svgPath: string; pngPath: string }> {
  const svg = await renderSvg(lineChartVegaLite(spec));
  const svgPath = `${basePath}.svg`;
  const pngPath = `${basePath}.png`;
  await mkdir(dirname(svgPath), { recursive: true });
  await writeFile(svgPath, svg, "utf8");
  await writeFile(pngPath, svgToPng(svg));
  return { svgPath, pngPath };
}
