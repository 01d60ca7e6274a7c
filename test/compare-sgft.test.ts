/**
 * The SGFT fine-tuning benchmarks of `sim2real compare` (issue 8, item 6): listed, their configuration
 * validated (exit 2 naming the path, nothing run), a tiny comparison whose zero-shot value equals an
 * independent evaluation of the bundle's actor normalised by hand, the normalisation helper on hand numbers,
 * and the per-benchmark thresholds and dip of the table.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { BENCHMARKS, resolveBenchmark } from "../src/experiments/benchmarks.ts";
import {
  compareTable,
  type MethodSeedResult,
  tableCsvRows,
  tableMarkdown,
} from "../src/experiments/compare.ts";
import {
  bundlePath,
  finetuneMethodRun,
  loadSimBundle,
  normalizeReturn,
  SGFT_BENCHES,
  type SgftBench,
} from "../src/experiments/sgft-experiments.ts";
import { SacAgent } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { cli, pool, root, show } from "./cli-helpers.ts";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-compare-sgft-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const BUNDLE = "docs/results/sgft/pendulum-friction/bundle.json";
const METHODS = ["zero-shot", "domain-rand", "sysid", "sac", "pbrs-sac", "sgft-sac", "sgft-mpc"];

test("sim2real benchmarks lists both SGFT benchmarks with their methods", async () => {
  const r = await cli(["benchmarks"]);
  assert.equal(r.status, 0, show(r));
  for (const name of ["sgft-pendulum-friction", "sgft-pendulum-action-scale", "sgft-cartpole-mass"]) {
    const at = r.stdout.indexOf(`${name} (well-specified)`);
    assert.ok(at >= 0, `${name} is listed: ${r.stdout}`);
    const methods = r.stdout.slice(at).split("\n")[2];
    assert.equal(methods, `  methods: ${METHODS.join(", ")}`, `${name}: its methods, in order`);
  }
});

test("the built-in settings are scripts/sgft-bench.ts's: budget, evaluation, bundle, H, SGFT-SAC's options", () => {
  for (const bench of ["sgft-pendulum-friction", "sgft-pendulum-action-scale"]) {
    const b = BENCHMARKS[bench];
    assert.deepEqual(b.thresholds, [0.8, 0.95], `${bench}: the issue's 80% and 95%`);
    const c = Object.fromEntries(resolveBenchmark(b).map((m) => [m.name, m.config]));
    assert.deepEqual(Object.keys(c), METHODS, `${bench}: methods`);
    for (const m of METHODS) {
      assert.equal(c[m].bundle, BUNDLE, `${bench}/${m}: the committed bundle (shared by both benches)`);
      assert.equal(c[m].evalEpisodes, 10, `${bench}/${m}: 10 evaluation episodes`);
      assert.equal(c[m].realSteps, 2000, `${bench}/${m}: 2000 real steps`);
      if (m !== "zero-shot") assert.equal(c[m].evalInterval, 250, `${bench}/${m}: evaluation every 250`);
    }
    const sgftSac = c["sgft-sac"] as Record<string, unknown>;
    assert.deepEqual(
      [sgftSac.horizon, sgftSac.actorDelay, sgftSac.branchActions, sgftSac.bcWeight],
      [1, 100, "uniform", 10],
      `${bench}: SGFT-SAC as the committed sgft-sac-H1-bc runs`,
    );
    const mpc = c["sgft-mpc"] as { horizon: number; mppi: { horizon: number; gamma: number } };
    assert.deepEqual(
      [mpc.horizon, mpc.mppi.horizon],
      [4, 4],
      `${bench}: MPC-SGFT's H = 4 reaches the planner`,
    );
    const gamma = JSON.parse(readFileSync(join(root, BUNDLE), "utf8")).gamma;
    assert.equal(mpc.mppi.gamma, gamma, `${bench}: the planner's γ is the bundle's`);
    assert.equal(c.sac.gamma, gamma, `${bench}: SAC's γ is the bundle's`);
    assert.deepEqual(
      [c.sac.shaping, c["pbrs-sac"].shaping, c["pbrs-sac"].resetCritic, c["pbrs-sac"].alpha],
      [false, true, true, 0.01],
      `${bench}: the SAC and PBRS-SAC presets`,
    );
  }
});

test("compare --config on an SGFT benchmark: bad fields and bundles exit 2 with their paths, nothing run", async () => {
  const missing = join(scratch, "no-such-bundle.json");
  const notBundle = join(scratch, "not-a-bundle.json");
  writeFileSync(notBundle, JSON.stringify({ format: "something/else" }));
  const cases: [string, unknown, RegExp[]][] = [
    [
      "fields.json",
      {
        methods: {
          sac: { actorLR: 1e-3, gamma: 0.5 },
          "sgft-sac": { model: { lrr: 2 } },
          "pbrs-sac": { alpha: -1 },
          "sgft-mpc": { mppi: { horizon: 2 } },
          "zero-shot": { bundle: missing },
        },
      },
      [
        /methods\.sac\.actorLR: unknown field/,
        /methods\.sac\.gamma: cannot be set \(got 0\.5; it is 0\.99 here\): fixed by the sim bundle/,
        /methods\.sgft-sac\.model\.lrr: unknown field/,
        /methods\.pbrs-sac\.alpha: /,
        /methods\.sgft-mpc\.mppi\.horizon: cannot be set \(got 2; it is 4 here\): set by horizon/,
        new RegExp(`methods\\.zero-shot\\.bundle: no such file: ${missing.replace(/[.\\/]/g, "\\$&")}`),
      ],
    ],
    [
      "bundle.yaml",
      `methods:\n  sgft-mpc:\n    bundle: ${notBundle}\n    mppi:\n      priorSamples: 300\n`,
      [/methods\.sgft-mpc\.mppi\.priorSamples: priorSamples \(300\) must be < samples/],
    ],
    [
      "bundle2.yaml",
      `methods:\n  sgft-mpc:\n    bundle: ${notBundle}\n`,
      [/methods\.sgft-mpc\.bundle: .*not-a-bundle\.json is not a sim bundle/],
    ],
  ];
  const runs = await pool(
    cases,
    ([name, body]) => {
      const f = join(scratch, name);
      writeFileSync(f, typeof body === "string" ? body : JSON.stringify(body));
      return cli([
        "compare",
        "sgft-pendulum-friction",
        "--seeds",
        "1",
        "--quiet",
        "--config",
        f,
        "--out",
        join(scratch, `bad-${name}`),
      ]);
    },
    3,
  );
  for (const [k, [name, , res]] of cases.entries()) {
    const r = runs[k];
    assert.equal(r.status, 2, `${name}: exit 2: ${show(r)}`);
    assert.match(
      r.stderr,
      /^sim2real: invalid configuration for benchmark 'sgft-pendulum-friction':/,
      show(r),
    );
    for (const re of res) assert.match(r.stderr, re, `${name}: ${show(r)}`);
    assert.ok(!r.stderr.includes("    at "), `${name}: no stack trace: ${r.stderr}`);
    assert.ok(!existsSync(join(scratch, `bad-${name}`)), `${name}: nothing was run or written`);
  }
});

/**
 * The sim actor's mean real return on the benchmark's evaluation episodes, stepped here by hand: 10 copies
 * of the real pendulum (sgft-friction:0.5) seeded 20 000 + seed, deterministic actions, 200 steps each.
 */
function zeroShotReturn(seed: number): number {
  const bundle = JSON.parse(readFileSync(join(root, BUNDLE), "utf8"));
  const agent = SacAgent.fromCheckpoint(bundle.sac, {}, Rng.fromSeed(123));
  const env = new VecEnv(makeEnv("pendulum", "sgft-friction:0.5"), {}, 10, Rng.fromSeed(20_000 + seed));
  let obs = env.reset();
  const a = new Float64Array(10);
  let total = 0;
  for (let t = 0; t < 200; t++) {
    agent.act(obs, 10, a, true);
    const r = env.step(a);
    for (let i = 0; i < 10; i++) total += r.reward[i];
    assert.equal(
      r.truncated.every((x) => x === (t === 199 ? 1 : 0)),
      true,
      "episodes of 200 steps",
    );
    obs = r.obs;
  }
  return total / 10;
}

test("compare sgft-pendulum-friction (zero-shot, sac; 300 real steps): table, plot, and the zero-shot value by hand", async () => {
  const cfg = join(scratch, "short.yaml");
  writeFileSync(
    cfg,
    "methods:\n  zero-shot:\n    realSteps: 300\n  sac:\n    realSteps: 300\n    evalInterval: 100\n",
  );
  const out = join(scratch, "short");
  const r = await cli([
    "compare",
    "sgft-pendulum-friction",
    "--methods",
    "zero-shot,sac",
    "--seeds",
    "1",
    "--quiet",
    "--config",
    cfg,
    "--out",
    out,
  ]);
  assert.equal(r.status, 0, show(r));
  for (const f of ["table.md", "table.csv", "results.json", "config.json", "compare.png", "compare.svg"])
    assert.ok(existsSync(join(out, f)), `${f} written`);

  // R_rand from reference.json (the script's zero-shot command); R_ref = summary.json's best, typed here.
  const ref = JSON.parse(
    readFileSync(join(root, "docs/results/sgft/pendulum-friction/reference.json"), "utf8"),
  );
  const Rrand = ref.randomReal as number;
  const Rref = -197.07741101799485;
  const R0 = zeroShotReturn(0);
  const expected = (R0 - Rrand) / (Rref - Rrand);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")).results as {
    method: string;
    realTransitions: number[];
    normalized: number[];
  }[];
  const zs = results.find((x) => x.method === "zero-shot");
  const sac = results.find((x) => x.method === "sac");
  assert.ok(zs && sac, "both methods ran");
  assert.deepEqual(zs.realTransitions, [0, 300], "zero-shot: at 0 and repeated at the budget");
  assert.ok(
    Math.abs(zs.normalized[0] - expected) <= 1e-12,
    `zero-shot ${zs.normalized[0]} = (R0 − R_rand)/(R_ref − R_rand) = ${expected}`,
  );
  assert.equal(zs.normalized[1], zs.normalized[0], "the repeat is the same evaluation");
  assert.deepEqual(sac.realTransitions, [0, 100, 200, 300], "sac: evaluated every 100 up to 300");
  // SAC collects its first 400 real steps with the sim policy before any update: within 300 it never moved.
  for (const [k, v] of sac.normalized.entries())
    assert.ok(
      Math.abs(v - expected) <= 1e-12,
      `sac at ${sac.realTransitions[k]}: still the sim policy (${v})`,
    );

  const md = readFileSync(join(out, "table.md"), "utf8");
  assert.match(
    md,
    /\| method \| real transitions to 0\.80 \| to 0\.95 \| to stay ≥ 0\.95 \| dip after transfer \(median\) \|/,
    "the benchmark's thresholds and the dip in the table",
  );
  assert.match(md, /R_rand = −1660\.0/, "the normalisation's provenance is stated");
  const csv = readFileSync(join(out, "table.csv"), "utf8").split("\n");
  assert.equal(
    csv[0],
    "method,seeds,to080,to095,stay095,dipMedian,finalMedian,finalMin,finalMax,totalTransitions,wallMsMedian",
    "CSV columns",
  );
  assert.match(csv[1], /^zero-shot,1,,,,0,/, "zero-shot: never 0.8 (it is below), no dip");
});

const HAND: SgftBench = {
  name: "hand",
  env: "pendulum",
  gaps: "",
  bundle: BUNDLE,
  randomReturn: -1000,
  referenceReturn: -200,
  provenance: "hand numbers",
  realSteps: 300,
  evalInterval: 100,
  evalEpisodes: 1,
};

test("normalisation on hand numbers: 0 at R_rand, 1 at R_ref, linear between", () => {
  assert.equal(normalizeReturn(HAND, -1000), 0, "R_rand → 0");
  assert.equal(normalizeReturn(HAND, -200), 1, "R_ref → 1");
  assert.equal(normalizeReturn(HAND, -600), 0.5, "(−600 + 1000)/800 = 0.5");
  assert.equal(normalizeReturn(HAND, -1400), -0.5, "worse than random is negative");
  const run = finetuneMethodRun(HAND, {
    points: [
      { realTransitions: 0, return: -800, std: 1 },
      { realTransitions: 100, return: -360, std: 2 },
    ],
  });
  assert.deepEqual(
    run.points.map((p) => [p.iteration, p.realTransitions, p.normalized, p.theta.length]),
    [
      [0, 0, 0.25, 0],
      [1, 100, 0.8, 0],
    ],
    "points: iteration index, transitions, (R + 1000)/800, no θ",
  );
  assert.equal(run.theta.length, 0, "no simulator parameters");
});

test("bundle paths: relative ones resolve against the package root, absolute ones stay", () => {
  assert.equal(bundlePath(BUNDLE), join(root, BUNDLE), "relative to the package root, not the cwd");
  assert.equal(bundlePath("/abs/b.json"), "/abs/b.json", "absolute as given");
  for (const b of SGFT_BENCHES)
    assert.equal(
      loadSimBundle(b.bundle, b.env).env,
      b.env,
      `${b.name}: its committed bundle is one of ${b.env}`,
    );
});

test("compareTable with the benchmark's thresholds and the dip, on hand-made evaluations", () => {
  const pts = (xs: [number, number][]) =>
    xs.map(([t, v], k) => ({ iteration: k, realTransitions: t, normalized: v, theta: new Float64Array(0) }));
  const res = (seed: number, xs: [number, number][]): MethodSeedResult => ({
    method: "m",
    seed,
    points: pts(xs),
    wallMs: 10,
    finalTheta: [],
  });
  const results = [
    // 0.8 at 200, 0.95 at 300; dip 0.6 − 0.5 = 0.1
    res(0, [
      [0, 0.6],
      [100, 0.5],
      [200, 0.85],
      [300, 0.97],
    ]),
    // 0.8 at 100, never 0.95; no dip (0.7 − 0.75 = −0.05)
    res(1, [
      [0, 0.7],
      [100, 0.81],
      [200, 0.75],
      [300, 0.9],
    ]),
    // 0.8 at 300, 0.95 at 300; dip 0.75 − 0.2 = 0.55
    res(2, [
      [0, 0.75],
      [100, 0.2],
      [200, 0.3],
      [300, 0.96],
    ]),
  ];
  const opts = { thresholds: [0.8, 0.95], dip: true };
  const [row] = compareTable(results, ["m"], opts);
  assert.deepEqual(
    row.reach,
    [
      { threshold: 0.8, transitions: 200 },
      { threshold: 0.95, transitions: 300 },
    ],
    "medians of (200, 100, 300) and (300, never, 300)",
  );
  assert.ok(
    Math.abs((row.dip as number) - 0.1) < 1e-15,
    `median dip of (0.1, −0.05, 0.55) is 0.1: ${row.dip}`,
  );
  const md = tableMarkdown([row], opts).split("\n");
  assert.equal(
    md[0],
    "| method | real transitions to 0.80 | to 0.95 | to stay ≥ 0.95 | dip after transfer (median) | final (median [min, max]) | real transitions used | wall time |",
    "header",
  );
  assert.equal(md[1], "|---|---|---|---|---|---|---|---|", "one separator per column");
  assert.match(
    md[2],
    /^\| m \| 200 \| 300 \| never \| 0\.1000 \| 0\.9600 \[0\.9000, 0\.9700\] \| 300 \| 0\.01 s \|$/,
    md[2],
  );
  assert.deepEqual(
    Object.keys(tableCsvRows([row])[0]),
    [
      "method",
      "seeds",
      "to080",
      "to095",
      "stay095",
      "dipMedian",
      "finalMedian",
      "finalMin",
      "finalMax",
      "totalTransitions",
      "wallMsMedian",
    ],
    "CSV columns",
  );
  // Without options: the columns every other benchmark has always had.
  const [plain] = compareTable(results, ["m"]);
  assert.equal(plain.dip, undefined, "no dip unless asked");
  assert.deepEqual(
    Object.keys(tableCsvRows([plain])[0]),
    [
      "method",
      "seeds",
      "to090",
      "to095",
      "to099",
      "stay095",
      "finalMedian",
      "finalMin",
      "finalMax",
      "totalTransitions",
      "wallMsMedian",
    ],
    "default CSV columns",
  );
  assert.match(
    tableMarkdown([plain]),
    /^\| method \| real transitions to 0\.90 \| to 0\.95 \| to 0\.99 \| to stay ≥ 0\.95 \| final \(median \[min, max\]\) \| real transitions used \| wall time \|\n\|---\|---\|---\|---\|---\|---\|---\|---\|\n/,
    "default header",
  );
});
