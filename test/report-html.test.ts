import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { reportCommand } from "../src/cli/report.ts";
import {
  escapeHtml,
  inlineSvg,
  type MetricRow,
  type ReportRun,
  renderReport,
  shortIds,
  writeReport,
} from "../src/report/html.ts";
import { RunStore } from "../src/store/store.ts";

const tmp = mkdtempSync(join(tmpdir(), "sim2real-report-html-"));
// REPORT_HTML_KEEP=1 keeps the report and the screenshot to look at.
after(() => {
  if (process.env.REPORT_HTML_KEEP) console.log(`report kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
});

const STEPS = 30;
const TRIALS = 2;
const THETA = 5;
const HOSTILE = "</script><b>bold</b><script>alert(1)</script>";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Synthetic metrics from smooth formulas; `r` shifts the curves so the two runs differ. */
function syntheticMetrics(r: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    for (let step = 0; step < STEPS; step++) {
      const push = (key: string, value: number) => rows.push({ trial, step, key, value });
      const rate = 6 + 3 * r + trial;
      push("real/softNormalized", 1 - (0.6 + 0.1 * trial) * Math.exp(-step / rate));
      push("real/hardNormalized", 1 - (0.8 - 0.1 * r) * Math.exp(-step / (rate + 2)));
      push("real/J", -10 * Math.exp(-step / rate) - 2);
      push("real/transitions", (step + 1) * 500 * (r + 1));
      push("outer/gradNorm", 5 * Math.exp(-step / (3 + r)) * (1 + 0.2 * trial));
      push("inner/iterations", 20 + ((step * (trial + 2)) % 7));
      push("inner/residual", 1e-8 * (1 + Math.sin(step + r)));
      push("check/cosine", 1 - (0.4 + 0.1 * trial) * Math.exp(-step / (4 + r)) * Math.cos(step / 3));
      for (let i = 0; i < THETA; i++)
        push(`theta/${i}`, (1 + 0.3 * i) * Math.sin(step / (6 + i) + i + 0.5 * trial) + 0.1 * r * step);
    }
  }
  // A non-finite sample must be skipped, not break the chart.
  rows.push({ trial: 0, step: STEPS, key: "real/softNormalized", value: Number.NaN });
  return rows;
}

const runs: ReportRun[] = [
  {
    id: "20260102-100000-a1b2c3",
    experiment: "paper-discrete",
    status: "finished",
    seed: 7,
    createdAt: "2026-01-02T10:00:00Z",
    config: { experiment: "paper-discrete", outer: { lr: 0.05, iterations: STEPS }, note: HOSTILE },
    metrics: syntheticMetrics(0),
  },
  {
    id: "20260102-110000-d4e5f6",
    experiment: "paper-discrete-hard",
    status: "finished",
    seed: 8,
    createdAt: "2026-01-02T11:00:00Z",
    config: { experiment: "paper-discrete-hard", [HOSTILE]: [1, 2, 3] },
    metrics: syntheticMetrics(1),
  },
];

/** Lines per chart: one per (run, trial) of a metric; a θ chart has one per (component, trial). */
function expectedLines(name: string): number {
  return name.startsWith("theta-") ? THETA * TRIALS : runs.length * TRIALS;
}

const EXPECTED_CHARTS = [
  "return-softNormalized-vs-iteration",
  "return-hardNormalized-vs-iteration",
  "return-softNormalized-vs-transitions",
  "return-hardNormalized-vs-transitions",
  "theta-20260102-100000",
  "theta-20260102-110000",
  "check-cosine",
  "outer-gradNorm",
  "inner-iterations",
  "inner-residual",
  "real-J",
];

describe("renderReport", () => {
  let html = "";
  let charts: { name: string; svg: string }[] = [];
  before(async () => {
    ({ html, charts } = await renderReport(runs, { title: "Two runs, overlaid" }));
  });

  test("plans the expected charts", () => {
    assert.deepEqual(
      charts.map((c) => c.name),
      EXPECTED_CHARTS,
      "return vs iteration and vs transitions (soft and hard), θ per run, checks, diagnostics",
    );
  });

  test("one inline <svg> per chart, inside its figure", () => {
    const svgs = html.match(/<svg\b/g) ?? [];
    assert.equal(svgs.length, charts.length, "number of <svg> elements equals the number of charts");
    for (const c of charts)
      assert.ok(html.includes(`data-chart="${c.name}"`), `figure for chart ${c.name} is in the HTML`);
    assert.ok(html.includes("<title>Two runs, overlaid</title>"), "custom title is used");
  });

  test("self-contained: no scripts, external URLs, links or imports", () => {
    assert.ok(!/<script\b/i.test(html), "no <script> element at all (the hostile config is escaped)");
    assert.ok(!/https?:\/\//i.test(html), "no http(s) URL anywhere in the document");
    assert.ok(!/<link\b|<img\b|<iframe\b|@import|url\((?!#)/i.test(html), "no link/img/iframe/@import/url()");
    assert.ok(!/\bsrc=/i.test(html), "no src attribute");
  });

  test("clip-path ids are unique across inlined charts", () => {
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, "every id in the document is unique");
    for (const m of html.matchAll(/url\(#([^)]+)\)/g))
      assert.ok(ids.includes(m[1]), `url(#${m[1]}) refers to an id in the document`);
  });

  test("the hostile config is escaped in the <details> block", () => {
    assert.ok(!html.includes("<b>bold</b>"), "raw hostile markup does not appear");
    assert.ok(
      html.includes("&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"),
      "hostile string appears escaped (JSON-pretty-printed)",
    );
    assert.equal((html.match(/<details>/g) ?? []).length, runs.length, "one <details> per run");
    assert.ok(html.includes("&quot;lr&quot;: 0.05"), "config is pretty-printed JSON");
  });

  test("summary table lists each run with final normalised returns per trial", () => {
    const table = html.slice(html.indexOf("<table>"), html.indexOf("</table>"));
    for (const r of runs) {
      assert.ok(table.includes(r.id), `run id ${r.id} in the table (title attribute)`);
      assert.ok(table.includes(`>${r.experiment}<`), `experiment ${r.experiment} in the table`);
      assert.ok(table.includes(`>${r.seed}<`), `seed ${r.seed} in the table`);
    }
    // Final soft value of run 0, trial 1 (the NaN at step 30 of trial 0 is skipped).
    const last = STEPS - 1;
    const t0 = 1 - 0.6 * Math.exp(-last / 6);
    const t1 = 1 - 0.7 * Math.exp(-last / 7);
    const cell = `trial 0: ${Number(t0.toPrecision(4))}, trial 1: ${Number(t1.toPrecision(4))}`;
    assert.ok(table.includes(cell), `table shows '${cell}' (last finite soft values of run 0)`);
    assert.ok(table.includes("final soft-normalised real return"), "soft column header");
    assert.ok(table.includes("final hard-normalised real return"), "hard column header");
  });

  test("hostile run fields are escaped in the text, the legends and the SVG", async () => {
    const evil: ReportRun = {
      id: 'run"<i>x</i>&',
      experiment: "<img src=x onerror=alert(1)>",
      status: "<u>done</u>",
      seed: 1,
      createdAt: "<s>now</s>",
      config: HOSTILE,
      metrics: syntheticMetrics(0).filter((m) => m.key === "real/softNormalized"),
    };
    const { html: h, charts: cs } = await renderReport([evil]);
    assert.equal(cs.length, 1, "a single chart for a single metric");
    for (const bad of ["<i>", "<img", "<u>", "<s>", "<b>", "<script"])
      assert.ok(!h.includes(bad), `${bad} does not appear unescaped`);
    assert.ok(h.includes("&lt;img src=x onerror=alert(1)&gt;"), "experiment shown escaped");
  });

  test("non-finite values are skipped and θ beyond 12 components is capped with a note", async () => {
    const metrics: MetricRow[] = [];
    for (let step = 0; step < 20; step++) {
      for (let i = 0; i < 15; i++) metrics.push({ trial: 0, step, key: `theta/${i}`, value: i + step / 10 });
      metrics.push({ trial: 0, step, key: "real/softNormalized", value: step === 5 ? Infinity : step / 20 });
    }
    const run: ReportRun = { ...runs[0], id: "wide", metrics };
    const { html: h, charts: cs } = await renderReport([run]);
    const theta = cs.find((c) => c.name === "theta-wide");
    assert.ok(theta, "θ chart exists");
    const linePaths = theta.svg.match(/aria-roledescription="line mark"/g) ?? [];
    assert.equal(linePaths.length, 12, "12 θ lines drawn out of 15");
    assert.ok(h.includes("Showing the first 12 of 15 θ components."), "the cap is stated");
    assert.ok(theta.svg.includes(">θ11<") && !theta.svg.includes(">θ12<"), "legend has θ11 but not θ12");
    const ret = cs.find((c) => c.name === "return-softNormalized-vs-iteration")!;
    const d = ret.svg.match(/aria-roledescription="line mark" d="([^"]+)"/)?.[1] ?? "";
    assert.equal((d.match(/L/g) ?? []).length, 18, "19 finite points (Infinity skipped) → 18 segments");
  });
});

test("shortIds: shortest unique prefix, cut at a dash for store ids", () => {
  assert.deepEqual(
    shortIds(["20260102-100000-a1b2c3", "20260103-090000-ffffff", "short"]),
    ["20260102", "20260103", "short"],
    "different days: the date is enough",
  );
  assert.deepEqual(
    shortIds(["20260102-100000-a1b2c3", "20260102-100000-d4e5f6", "20260102-110000-000000"]),
    ["20260102-100000-a1b2c3", "20260102-100000-d4e5f6", "20260102-110000"],
    "same second: the whole id; same day: date and time",
  );
  assert.deepEqual(
    shortIds(["abcdefghijklmnop", "abcdefghXjklmnop"]),
    ["abcdefghi", "abcdefghX"],
    "no dashes",
  );
});

test("inlineSvg prefixes ids and drops namespace URLs", () => {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><clipPath id="clip1"/><g clip-path="url(#clip1)"/></svg>';
  assert.equal(
    inlineSvg(svg, "c3-"),
    '<svg><clipPath id="c3-clip1"/><g clip-path="url(#c3-clip1)"/></svg>',
    "ids and references prefixed, xmlns removed",
  );
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

/** The DOM surface the in-page check uses. */
interface PageNode {
  querySelectorAll(selector: string): ArrayLike<PageNode>;
  querySelector(selector: string): PageNode | null;
  getAttribute(name: string): string | null;
  getBBox(): { width: number; height: number };
  getBoundingClientRect(): { width: number; height: number; left: number; right: number; bottom: number };
  textContent: string | null;
  dataset: Record<string, string | undefined>;
}

describe("writeReport in headless Chromium", () => {
  const outDir = join(tmp, "report");
  let reportPath = "";
  before(async () => {
    reportPath = await writeReport(runs, outDir);
  });

  test("writes report.html and one PNG per chart", () => {
    assert.equal(reportPath, join(outDir, "report.html"), "returns the path of report.html");
    assert.ok(existsSync(reportPath), "report.html exists");
    for (const name of EXPECTED_CHARTS) {
      const file = join(outDir, `${name}.png`);
      assert.ok(existsSync(file), `${name}.png written`);
      const png = readFileSync(file);
      assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, `${name}.png starts with the PNG signature`);
      assert.ok(png.readUInt32BE(16) >= 1000, `${name}.png is rendered at 2× (width ≥ 1000 px)`);
      assert.ok(png.length > 10_000, `${name}.png is not trivially small (${png.length} bytes)`);
    }
  });

  test("the report opens in Chromium and every chart draws its lines", async () => {
    const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
    assert.ok(
      existsSync(executablePath),
      `Chromium not found at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(reportPath).href, { waitUntil: "load" });
      assert.deepEqual(
        requests.filter((u) => !u.startsWith("file:")),
        [],
        "the page requests nothing outside the file",
      );
      // Runs in the page (the project compiles without DOM types, hence the minimal interface).
      const found = await page.evaluate(() =>
        Array.from(
          (globalThis as unknown as { document: PageNode }).document.querySelectorAll("figure.chart"),
        ).map((fig) => {
          const paths = Array.from(fig.querySelectorAll("svg g.mark-line path"));
          const drawn = paths.filter((p) => {
            const segments = (p.getAttribute("d") ?? "").match(/L/g)?.length ?? 0;
            const box = p.getBBox();
            return segments >= 10 && box.width > 0 && box.height > 0;
          });
          const rect = fig.querySelector("svg")!.getBoundingClientRect();
          // Text (title, axes, legend) drawn past the chart's edges would be cut off.
          const outside = Array.from(fig.querySelectorAll("svg text"))
            .filter((t) => {
              const b = t.getBoundingClientRect();
              return b.left < rect.left - 1 || b.right > rect.right + 1 || b.bottom > rect.bottom + 1;
            })
            .map((t) => t.textContent ?? "");
          return {
            outside,
            name: fig.dataset.chart ?? "",
            lines: paths.length,
            drawn: drawn.length,
            width: rect.width,
            height: rect.height,
            legend: Array.from(fig.querySelectorAll("g.role-legend-label text")).map(
              (t) => t.textContent ?? "",
            ),
          };
        }),
      );
      assert.deepEqual(
        found.map((f) => f.name),
        EXPECTED_CHARTS,
        "every chart is in the page, in order",
      );
      for (const f of found) {
        const n = expectedLines(f.name);
        assert.equal(f.lines, n, `${f.name}: ${n} line paths in g.mark-line`);
        assert.equal(f.drawn, n, `${f.name}: all ${n} lines have ≥ 10 segments and a non-empty bounding box`);
        assert.ok(f.width > 300 && f.height > 200, `${f.name}: the SVG is laid out (${f.width}×${f.height})`);
        assert.equal(f.legend.length, n, `${f.name}: one legend entry per line`);
        assert.deepEqual(f.outside, [], `${f.name}: no text sticks out of the chart`);
        assert.ok(
          f.legend.every((l) => !l.includes("…")),
          `${f.name}: legend labels are not cut: ${f.legend.join(" | ")}`,
        );
      }
      const ret = found[0];
      assert.ok(
        ret.legend.includes("20260102-110000 · paper-discrete-hard · trial 1"),
        `legend names run, experiment and trial: ${ret.legend.join(" | ")}`,
      );
      const shot = join(tmp, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, "screenshot is a PNG");
      assert.ok(png.length > 50_000, `screenshot is not trivially small (${png.length} bytes)`);
    } finally {
      await browser.close();
    }
  });
});

test("reportCommand reads runs from the store (read-only) by id prefix", async () => {
  const storePath = join(tmp, "store.db");
  const store = RunStore.open(storePath);
  const ids = runs.map((r) => {
    const id = store.createRun({
      experiment: r.experiment,
      config: r.config,
      seed: r.seed,
      version: "0.0.0-test",
      commit: null,
      command: ["run", r.experiment],
    });
    const bySteps = new Map<string, Record<string, number>>();
    for (const m of r.metrics) {
      const k = `${m.trial}/${m.step}`;
      bySteps.set(k, { ...bySteps.get(k), [m.key]: m.value });
    }
    store.transaction(() => {
      for (const [k, values] of bySteps) {
        const [trial, step] = k.split("/").map(Number);
        store.putMetrics(id, trial, step, values);
      }
    });
    return id;
  });
  store.close();
  const out = join(tmp, "cli-report");
  const path = await reportCommand([ids[0], ids[1].slice(0, -2), ids[0]], {
    store: storePath,
    out,
    quiet: true,
  });
  assert.equal(path, join(out, "report.html"), "returns the report path under --out");
  const html = readFileSync(path, "utf8");
  for (const id of ids) assert.ok(html.includes(`<code>${id}</code>`), `run ${id} is in the report`);
  assert.equal((html.match(/<details>/g) ?? []).length, 2, "a run given twice is reported once");
  assert.ok(html.includes("&lt;/script&gt;&lt;b&gt;bold"), "config from the store is shown, escaped");
  assert.ok(existsSync(join(out, "return-softNormalized-vs-transitions.png")), "PNGs written next to it");
  await assert.rejects(
    reportCommand(["no-such-run"], { store: storePath, out, quiet: true }),
    /no run 'no-such-run'/,
    "unknown run id is a clear error",
  );
  await assert.rejects(reportCommand([], { store: storePath, quiet: true }), /at least one run/, "no ids");
});
