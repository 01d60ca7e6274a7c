import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { toCsv, writeCsv, writeJson } from "../src/report/files.ts";
import {
  dejaVuTextWidth,
  type LineChartSpec,
  lineChartVegaLite,
  renderSvg,
  svgToPng,
  writeLineChart,
} from "../src/report/plot.ts";

const tmp = mkdtempSync(join(tmpdir(), "sim2real-report-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const chart: LineChartSpec = {
  title: "Success rate vs. episodes",
  xLabel: "Episodes",
  yLabel: "Success rate",
  series: [
    { name: "Bi-level", x: [1, 2, 3, 4], y: [0.5, 0.8, 0.9, 0.97] },
    { name: "Fine-tune", x: [1, 2, 3, 4], y: [0.4, 0.6, 0.85, 0.92] },
  ],
  rules: [{ y: 0.95, label: "95%" }, { y: 0.99 }],
  width: 400,
  height: 250,
};

type AnyRec = Record<string, unknown>;

function pngWidth(png: Buffer): number {
  return png.readUInt32BE(16);
}

describe("lineChartVegaLite", () => {
  const vl = lineChartVegaLite(chart) as AnyRec;
  const layers = vl.layer as AnyRec[];
  const line = layers[0];
  const enc = line.encoding as Record<string, AnyRec>;

  test("long-format data with a series field, in input order", () => {
    const values = (line.data as { values: AnyRec[] }).values;
    assert.equal(values.length, 8);
    assert.deepEqual(values[0], { series: "Bi-level", x: 1, y: 0.5 });
    assert.deepEqual([...new Set(values.map((v) => v.series))], ["Bi-level", "Fine-tune"]);
    assert.equal(enc.color.field, "series");
    assert.deepEqual((enc.color.scale as AnyRec).domain, ["Bi-level", "Fine-tune"]);
  });

  test("axis titles, title, size, fonts and background", () => {
    assert.equal(enc.x.title, "Episodes");
    assert.equal(enc.y.title, "Success rate");
    assert.deepEqual(vl.title, { text: "Success rate vs. episodes", anchor: "start", offset: 12 });
    assert.equal(vl.width, 400);
    assert.equal(vl.height, 250);
    assert.equal(vl.background, "white");
    const config = vl.config as Record<string, AnyRec>;
    assert.equal(config.font, "DejaVu Sans");
    assert.equal(config.title.font, "DejaVu Sans");
    assert.equal(config.axis.labelFont, "DejaVu Sans");
    assert.equal(config.axis.titleFont, "DejaVu Sans");
    assert.equal(config.legend.labelFont, "DejaVu Sans");
    assert.equal(config.text.font, "DejaVu Sans");
  });

  test("dashed rules layer and rule labels; yDomain and log scale options", () => {
    const rule = layers[1];
    assert.equal((rule.mark as AnyRec).type, "rule");
    assert.ok(Array.isArray((rule.mark as AnyRec).strokeDash));
    assert.deepEqual(
      (rule.data as { values: AnyRec[] }).values.map((v) => v.y),
      [0.95, 0.99],
    );
    assert.equal(((layers[2].data as { values: AnyRec[] }).values as AnyRec[]).length, 1);

    const v2 = lineChartVegaLite({ ...chart, rules: undefined, yDomain: [0, 1], xScale: "log" }) as AnyRec;
    const l2 = v2.layer as AnyRec[];
    assert.equal(l2.length, 1);
    const e2 = l2[0].encoding as Record<string, AnyRec>;
    assert.deepEqual((e2.y.scale as AnyRec).domain, [0, 1]);
    assert.equal((e2.x.scale as AnyRec).type, "log");
  });

  test("deterministic; non-finite y becomes null; mismatched lengths throw", () => {
    assert.deepEqual(JSON.stringify(lineChartVegaLite(chart)), JSON.stringify(lineChartVegaLite(chart)));
    const v = lineChartVegaLite({
      ...chart,
      series: [{ name: "a", x: [1, 2], y: [Number.NaN, 1] }],
    }) as AnyRec;
    const values = ((v.layer as AnyRec[])[0].data as { values: AnyRec[] }).values;
    assert.equal(values[0].y, null);
    assert.throws(() => lineChartVegaLite({ ...chart, series: [{ name: "a", x: [1, 2], y: [1] }] }));
  });
});

describe("rendering", () => {
  test("SVG contains title, axis titles, legend and line paths in DejaVu Sans", async () => {
    const svg = await renderSvg(lineChartVegaLite(chart));
    assert.ok(svg.startsWith("<svg"));
    assert.match(svg, /width="400" height="250"/);
    for (const text of [
      "Success rate vs. episodes",
      "Episodes",
      "Success rate",
      "Bi-level",
      "Fine-tune",
      "95%",
    ]) {
      assert.ok(svg.includes(`>${text}</text>`), `missing text ${text}`);
    }
    assert.ok(svg.includes("<path"));
    assert.ok(svg.includes('font-family="DejaVu Sans"'));
    assert.ok(!/font-family="(?!DejaVu Sans")/.test(svg), "every text uses DejaVu Sans");
    assert.ok(svg.includes("stroke-dasharray"), "dashed reference rules");
    assert.equal(await renderSvg(lineChartVegaLite(chart)), svg, "rendering is deterministic");
  });

  test("PNG has the signature and width = SVG width * scale", async () => {
    const svg = await renderSvg(lineChartVegaLite(chart));
    const png = svgToPng(svg, { scale: 1.5 });
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(Math.abs(pngWidth(png) - 400 * 1.5) <= 1, `width ${pngWidth(png)}`);
    assert.ok(Math.abs(png.readUInt32BE(20) - 250 * 1.5) <= 1);
  });

  test("writeLineChart writes both files, creating directories", async () => {
    const base = join(tmp, "nested", "dir", "chart");
    const { svgPath, pngPath } = await writeLineChart(chart, base);
    assert.equal(svgPath, `${base}.svg`);
    assert.equal(pngPath, `${base}.png`);
    assert.ok(readFileSync(svgPath, "utf8").includes("Success rate vs. episodes"));
    const png = readFileSync(pngPath);
    assert.equal(png.readUInt32BE(0), 0x89504e47);
    assert.ok(Math.abs(pngWidth(png) - 800) <= 1);
  });

  test("DejaVu Sans width table", () => {
    // "0" is 1303/2048 em; bold is wider; unknown glyphs fall back to a digit's width.
    assert.ok(Math.abs(dejaVuTextWidth("00", 10) - (2 * 1303 * 10) / 2048) < 1e-9);
    assert.ok(dejaVuTextWidth("Label", 12, true) > dejaVuTextWidth("Label", 12));
    assert.ok(dejaVuTextWidth("\u4e00", 10) > 0);
  });
});

describe("CSV", () => {
  test("header, full-precision numbers, nulls and RFC-4180 quoting", () => {
    const csv = toCsv([
      { name: "plain", value: 0.1 + 0.2, note: null },
      { name: "a,b", value: 1e-20, note: 'say "hi"' },
      { name: "multi\nline", value: -3, note: "cr\rhere" },
      { name: " spaces ", value: Number.NaN, note: "" },
    ]);
    assert.equal(
      csv,
      [
        "name,value,note",
        "plain,0.30000000000000004,",
        '"a,b",1e-20,"say ""hi"""',
        '"multi\nline",-3,"cr\rhere"',
        " spaces ,NaN,",
        "",
      ].join("\n"),
    );
  });

  test("explicit columns select/order fields; missing keys are empty; header-only for no rows", () => {
    assert.equal(toCsv([{ a: 1, b: "x" }, { b: "y" }], ["b", "a", "c"]), "b,a,c\nx,1,\ny,,\n");
    assert.equal(toCsv([{ a: 1 }, { b: 2 }]), "a,b\n1,\n,2\n");
    assert.equal(toCsv([], ["a", "b,c"]), 'a,"b,c"\n');
  });

  test("writeCsv creates parent directories", () => {
    const p = join(tmp, "csv", "deep", "t.csv");
    writeCsv(p, [{ k: "v" }]);
    assert.equal(readFileSync(p, "utf8"), "k\nv\n");
  });
});

describe("JSON", () => {
  test("round-trip with Float64Array, 2-space indent, trailing newline", () => {
    const p = join(tmp, "json", "out.json");
    const value = { name: "run", returns: new Float64Array([0.1, 1 / 3, -2.5e-300]), nested: { v: [1, 2] } };
    writeJson(p, value);
    const text = readFileSync(p, "utf8");
    assert.ok(text.endsWith("}\n"));
    assert.ok(text.includes('\n  "name": "run"'));
    assert.deepEqual(JSON.parse(text), {
      name: "run",
      returns: [0.1, 1 / 3, -2.5e-300],
      nested: { v: [1, 2] },
    });
  });
});
