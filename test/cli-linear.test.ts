/**
 * End-to-end tests of `sim2real gradient` on linear-Gaussian problem files (spawned as
 * `node bin/sim2real.mjs ...`):
 *  1. the paper's continuous example: the known gains (LQR 0.588403, exact 0.894080) and normalised returns;
 *  2. outerGradient and dKdTheta against central finite differences of θ ↦ J_real(K(θ)) and θ ↦ K(θ),
 *     computed here through the library (innerSolve + expectedReturn), for both inner solvers;
 *  3. seeded sampled real gradients are reproducible and count their real transitions;
 *  4. bad files and misplaced options exit 2 with one `sim2real:` message and no stack trace.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { main } from "../src/cli/main.ts";
import { InputError } from "../src/common/errors.ts";
import { expectedReturn } from "../src/critics/linear-gaussian.ts";
import type { LinearGaussianProblem } from "../src/envs/linear-gaussian.ts";
import { loadLinearGaussianProblem } from "../src/envs/linear-gaussian-problem.ts";
import { innerSolve, type LinearInnerSolver } from "../src/outer/bilevel-linear-gaussian.ts";
import { type CliResult, cli, pool, root, show } from "./cli-helpers.ts";

const PAPER = "examples/paper-continuous.json";
const TWO_D = "test/fixtures/linear/good/misspecified-2d.json";
const BAD_DIR = "test/fixtures/linear/bad";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-cli-linear-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------------------
// Spawning the CLI (test/cli-helpers.ts)

/** Bad input: exit 2, one `sim2real:` message, no stack trace, nothing on stdout. */
function assertBadInput(r: CliResult): void {
  assert.equal(r.status, 2, show(r));
  assert.ok(r.stderr.startsWith("sim2real: "), `stderr should start with 'sim2real:'\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s*at /m, `stack trace on stderr\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\b[A-Z]\w*Error\b/, `error class name on stderr\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\bnode:internal\b|\.ts:\d+/, `source locations on stderr\n${show(r)}`);
  assert.equal(r.stdout, "", `nothing on stdout\n${show(r)}`);
}

/**
 * The CLI in this process (`main` is what bin/sim2real.mjs runs): much cheaper than a spawn, for the many
 * bad-input cases; a few of them are also spawned end to end. Captures stderr only (the test runner
 * reports on stdout).
 */
async function inProcess(args: readonly string[]): Promise<CliResult> {
  let stderr = "";
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const status = await main(["node", "sim2real", ...args]);
    return { args, status, stdout: "", stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** The `gradient --json` object for a linear-Gaussian file. */
interface LinearGradientJson {
  kind: string;
  inner: { solver: string; sensitivity: string; residual: number };
  realGradientMethod: string;
  K: number[][];
  dKdTheta: number[][];
  thetaLayout: string;
  theta: number[];
  realReturn: number;
  normalizedReturn: number;
  realOptimum: { K: number[][]; J: number };
  outerGradient: number[];
  realGradient: number[];
  realTransitions: number;
}

function parseOk(r: CliResult): LinearGradientJson {
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stderr, "", show(r));
  return JSON.parse(r.stdout) as LinearGradientJson;
}

const gradientArgs = (problem: string, ...extra: string[]) => [
  "gradient",
  "--problem",
  problem,
  "--json",
  ...extra,
];

// ---------------------------------------------------------------------------------------------------------
// Finite differences through the library

const norm = (x: readonly number[]): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
const flat = (x: readonly number[][]): number[] => x.flat();

interface Fd {
  /** ∂/∂θ_i J_real(K(θ)). */
  outer: number[];
  /** dK/dθ, (m·n)×nθ. */
  dK: number[][];
}

/** Central differences (step h) of θ ↦ J_real(K(θ)) and θ ↦ K(θ) at the file's θ. */
function finiteDifferences(
  p: LinearGaussianProblem,
  theta: readonly number[],
  inner: LinearInnerSolver,
  h = 1e-5,
): Fd {
  const cfg = { inner, lqrSensitivity: "riccati" } as const;
  const nK = p.n * p.m;
  const outer: number[] = [];
  const dK = Array.from({ length: nK }, () => new Array<number>(theta.length).fill(0));
  for (let i = 0; i < theta.length; i++) {
    const at = (d: number) => {
      const th = Float64Array.from(theta);
      th[i] += d;
      const K = innerSolve(p, th, cfg).K;
      return { K, J: expectedReturn(p, p.real, K).J };
    };
    const plus = at(h);
    const minus = at(-h);
    outer.push((plus.J - minus.J) / (2 * h));
    for (let e = 0; e < nK; e++) dK[e][i] = (plus.K[e] - minus.K[e]) / (2 * h);
  }
  return { outer, dK };
}

/** ‖x − ref‖ / max(‖ref‖, floor). */
function relErr(x: readonly number[], ref: readonly number[], floor = 0): number {
  assert.equal(x.length, ref.length);
  for (const v of x) assert.ok(Number.isFinite(v), `non-finite value ${v}`);
  return norm(x.map((v, i) => v - ref[i])) / Math.max(norm(ref), floor);
}

// ---------------------------------------------------------------------------------------------------------
// 1–2. Values and finite differences

test("gradient on the paper's example and a misspecified 2-D problem: known values, FD checks, text output", async () => {
  const jobs = [PAPER, TWO_D].flatMap((problem) =>
    (["lqr", "exact"] as const).map((inner) => ({ problem, inner })),
  );
  const results = await pool(
    [
      ...jobs.map((j) => gradientArgs(j.problem, "--inner", j.inner)),
      gradientArgs(PAPER), // default inner: lqr
      gradientArgs(TWO_D, "--lqr-sensitivity", "policy-gradient"),
      ["gradient", "--problem", PAPER], // human-readable
    ],
    cli,
  );
  const text = results.pop()!;
  assert.equal(text.status, 0, show(text));
  for (const part of ["linear-Gaussian", "LQR", "gain K", "0.588403", "normalised 0.948", "diag Q", "diag R"])
    assert.ok(text.stdout.includes(part), `stdout should contain ${part}\n${show(text)}`);
  const outs = results.map(parseOk);
  const byJob = (problem: string, inner: string) =>
    outs[jobs.findIndex((j) => j.problem === problem && j.inner === inner)];

  const lqr = byJob(PAPER, "lqr");
  const exact = byJob(PAPER, "exact");
  assert.ok(Math.abs(lqr.K[0][0] - 0.588403) < 5e-7, `K_lqr = ${lqr.K[0][0]}`);
  assert.ok(Math.abs(lqr.normalizedReturn - 0.948) <= 1e-3, `LQR normalised ${lqr.normalizedReturn}`);
  assert.ok(Math.abs(exact.K[0][0] - 0.89408) < 5e-6, `K_exact = ${exact.K[0][0]}`);
  assert.ok(Math.abs(exact.normalizedReturn - 1) <= 1e-9, `exact normalised ${exact.normalizedReturn}`);
  // The accurate simulator's exact maximiser is the real optimum: the outer gradient vanishes.
  assert.ok(norm(exact.outerGradient) < 1e-12, `exact outer gradient ${exact.outerGradient}`);
  assert.deepEqual(outs[jobs.length], lqr, "--inner defaults to lqr");
  for (const out of [lqr, exact]) {
    assert.equal(out.kind, "linear-gaussian");
    assert.equal(out.thetaLayout, "vec A (row-major), vec B (row-major), diag Q, diag R");
    assert.deepEqual(out.theta, [1, 1, 1, 1]);
    assert.equal(out.realGradientMethod, "exact");
    assert.equal(out.realTransitions, 0);
    assert.ok(out.inner.residual < 1e-9, `residual ${out.inner.residual}`);
  }
  assert.deepEqual(
    [lqr.inner.solver, lqr.inner.sensitivity, exact.inner.solver, exact.inner.sensitivity],
    ["lqr", "riccati", "exact", "implicit"],
  );

  // The two LQR sensitivity routes agree to rounding.
  const riccati2d = byJob(TWO_D, "lqr");
  const pg2d = outs[jobs.length + 1];
  assert.equal(pg2d.inner.sensitivity, "policy-gradient");
  assert.ok(relErr(flat(pg2d.dKdTheta), flat(riccati2d.dKdTheta)) < 1e-9, "riccati vs policy-gradient dK/dθ");

  for (const [i, j] of jobs.entries()) {
    const out = outs[i];
    const where = `${j.problem} --inner ${j.inner}`;
    const p = loadLinearGaussianProblem(join(root, j.problem));
    const nth = out.theta.length;
    assert.equal(out.K.length, p.m, `${where}: K has m rows`);
    assert.ok(
      out.K.every((r) => r.length === p.n),
      `${where}: K has n columns`,
    );
    assert.equal(out.dKdTheta.length, p.m * p.n, `${where}: dKdTheta rows`);
    assert.ok(
      out.dKdTheta.every((r) => r.length === nth),
      `${where}: dKdTheta columns`,
    );
    assert.equal(out.outerGradient.length, nth);
    assert.equal(out.realGradient.length, p.m * p.n);
    // outerGradient = dKdThetaᵀ realGradient.
    const product = Array.from({ length: nth }, (_, c) =>
      out.dKdTheta.reduce((s, row, e) => s + row[c] * out.realGradient[e], 0),
    );
    assert.ok(
      relErr(out.outerGradient, product, 1e-12) < 1e-12,
      `${where}: outerGradient ≠ dKdθᵀ realGradient`,
    );
    const fd = finiteDifferences(p, out.theta, j.inner);
    assert.ok(relErr(flat(out.dKdTheta), flat(fd.dK)) < 1e-6, `${where}: dKdTheta vs FD`);
    // Floor 1e-2 (≈1% of the paper's LQR outer gradient, 1.22): with the exact inner on the accurate
    // simulator the gradient is 0 and FD returns its O(h²) truncation (~1e-9), not a relative quantity.
    const err = relErr(out.outerGradient, fd.outer, 1e-2);
    assert.ok(
      err < 1e-6,
      `${where}: outerGradient vs FD, relative error ${err}\n${out.outerGradient}\n${fd.outer}`,
    );
  }
});

// ---------------------------------------------------------------------------------------------------------
// 3. Sampled real gradients

test("sampled real gradient: a function of --seed, 100 × 40 real transitions by default", async () => {
  const args = (seed: number, ...extra: string[]) =>
    gradientArgs(PAPER, "--real-gradient", "sampled", "--seed", `${seed}`, ...extra);
  const [a, b, c, d] = await pool(
    [args(7), args(7), args(8), args(7, "--real-trajectories", "10", "--real-horizon", "5")],
    cli,
  );
  const [ja, , jc, jd] = [a, b, c, d].map(parseOk);
  assert.equal(a.stdout, b.stdout, "same seed, different output");
  assert.notDeepEqual(ja.outerGradient, jc.outerGradient, "seeds 7 and 8 gave the same sampled gradient");
  assert.equal(ja.realTransitions, 100 * 40);
  assert.equal(jd.realTransitions, 10 * 5);
  assert.equal(ja.realGradientMethod, "sampled");
  // Same gain and evaluation as the exact real gradient; only ∂J_real/∂K is estimated.
  assert.ok(Math.abs(ja.K[0][0] - 0.588403) < 5e-7);
  assert.ok(Math.abs(ja.realGradient[0] - 1.4042693690383612) < 0.5, `REINFORCE ĝ = ${ja.realGradient[0]}`);
});

// ---------------------------------------------------------------------------------------------------------
// 4. Bad input

const badFiles = readdirSync(join(root, BAD_DIR))
  .filter((f) => f.endsWith(".json"))
  .sort();

test("bad linear-Gaussian files: exit 2, the loader's message naming the file and the field", async () => {
  assert.ok(badFiles.length >= 20, `only ${badFiles.length} bad fixtures`);
  const paths = badFiles.map((f) => `${BAD_DIR}/${f}`);
  const results: CliResult[] = [];
  for (const path of paths) results.push(await inProcess(gradientArgs(path)));
  // End to end for two of them: the process's exit code, stdout and stderr.
  const spawned = await pool(
    [gradientArgs(`${BAD_DIR}/real-q-indefinite.json`), gradientArgs(`${BAD_DIR}/not-json.json`)],
    cli,
  );
  for (const r of spawned) {
    assertBadInput(r);
    assert.equal(r.stderr, results[paths.indexOf(r.args[2])].stderr, show(r));
  }
  paths.forEach((path, i) => {
    const r = results[i];
    assertBadInput(r);
    let expected: unknown;
    try {
      loadLinearGaussianProblem(path);
    } catch (err) {
      expected = err;
    }
    assert.ok(expected instanceof InputError, `${path} should not load`);
    assert.equal(r.stderr, `sim2real: ${expected.message}\n`, show(r));
    assert.ok(r.stderr.includes(path), `stderr should name ${path}\n${show(r)}`);
    if (expected.field)
      assert.ok(r.stderr.includes(`  - ${expected.field}: `), `field not named\n${show(r)}`);
  });
});

test("options of the other problem family, and unsolvable simulators, exit 2 with a clear message", async () => {
  const unstable = join(scratch, "unstabilisable.json");
  const raw = JSON.parse(readFileSync(join(root, PAPER), "utf8"));
  raw.simulator.A = [[2]];
  raw.simulator.B = [[0]];
  delete raw.lowerBounds;
  writeFileSync(unstable, JSON.stringify(raw));
  const cases: { args: string[]; parts: string[] }[] = [
    { args: gradientArgs(PAPER, "--method", "exact"), parts: ["--method applies only to tabular", PAPER] },
    { args: gradientArgs(PAPER, "--method", "sampled"), parts: ["--method applies only to tabular"] },
    { args: gradientArgs(PAPER, "--objective", "hard"), parts: ["--objective applies only to tabular"] },
    { args: gradientArgs(PAPER, "--sim-steps", "10"), parts: ["--sim-steps applies only to tabular"] },
    { args: gradientArgs(PAPER, "--inner", "exact", "--lqr-sensitivity", "riccati"), parts: ["--inner lqr"] },
    { args: gradientArgs(PAPER, "--inner", "newton"), parts: ["newton"] },
    {
      args: gradientArgs(PAPER, "--real-gradient", "sampled", "--real-trajectories", "0"),
      parts: ["--real-trajectories >= 1"],
    },
    {
      args: gradientArgs("examples/paper-discrete.json", "--inner", "lqr"),
      parts: ["--inner applies only to linear-Gaussian", "examples/paper-discrete.json"],
    },
    {
      args: gradientArgs("examples/paper-discrete.json", "--lqr-sensitivity", "riccati"),
      parts: ["--lqr-sensitivity applies only to linear-Gaussian"],
    },
    { args: gradientArgs(unstable, "--inner", "lqr"), parts: [unstable, "no solution", "stabilising"] },
  ];
  const results: CliResult[] = [];
  for (const c of cases) results.push(await inProcess(c.args));
  // End to end for two of them.
  const spawned = await pool([cases[2].args, cases[cases.length - 1].args], cli);
  for (const r of spawned) {
    assertBadInput(r);
    assert.equal(r.stderr, results[cases.findIndex((c) => c.args === r.args)].stderr, show(r));
  }
  cases.forEach((c, i) => {
    const r = results[i];
    assert.equal(r.status, 2, show(r));
    assert.doesNotMatch(r.stderr, /^\s*at /m, show(r));
    for (const part of c.parts)
      assert.ok(r.stderr.includes(part), `stderr should contain ${part}\n${show(r)}`);
  });
});

test("check on a linear-Gaussian file: dK/dθ of both solvers vs finite differences, LQR routes agree", async () => {
  const r = await cli(["check", "--problem", "examples/paper-continuous.json", "--random", "2", "--json"]);
  assert.equal(r.status, 0, show(r));
  const out = JSON.parse(r.stdout) as {
    pass: boolean;
    rows: { point: string; exactVsFd: number; lqrVsFd: number; lqrRoutes: number }[];
  };
  assert.equal(out.pass, true, r.stdout);
  assert.equal(out.rows.length, 3, r.stdout);
  for (const row of out.rows) {
    assert.ok(row.exactVsFd < 1e-6 && row.lqrVsFd < 1e-6, `${row.point}: ${JSON.stringify(row)}`);
    assert.ok(row.lqrRoutes < 1e-8, `${row.point}: ${JSON.stringify(row)}`);
  }
});
