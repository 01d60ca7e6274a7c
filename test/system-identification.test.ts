/** System identification as an outer method (issue 5), its likelihood gradients, and the hybrid. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LinearGaussianProblem } from "../src/envs/linear-gaussian.ts";
import { rolloutLinear } from "../src/envs/linear-gaussian-rollout.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";
import { median } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import {
  HybridLinearConfigSchema,
  HybridTabularConfigSchema,
  runHybridLinear,
  runHybridTabular,
} from "../src/outer/hybrid.ts";
import {
  centredRealLogits,
  centreLogitRows,
  linearPairCount,
  logLikelihoodGradLinear,
  logLikelihoodGradTabular,
  logLikelihoodLinear,
  logLikelihoodTabular,
  runSysIdLinear,
  runSysIdTabular,
  SysIdConfigSchema,
} from "../src/outer/system-identification.ts";
import type { EvalPoint } from "../src/outer/trace.ts";
import { LinearGaussianPolicy } from "../src/policies/linear-gaussian.ts";
import { paperDiscreteProblem, randomProblem } from "./helpers.ts";

const paper = paperDiscreteProblem();
const SEEDS = [0, 1, 2, 3, 4];

/** Paper-continuous with a wrong prior simulator (A = 1.5, B = 0.2, Q = 0.3, R = 2): the accurate one
 * would make identification trivial (its policy is already optimal before any data). */
function offContinuous(): LinearGaussianProblem {
  const p = paperContinuousProblem();
  const simulator = {
    A: Float64Array.of(1.5),
    B: Float64Array.of(0.2),
    Q: Float64Array.of(0.3),
    R: Float64Array.of(2),
  };
  return { ...p, simulator };
}

const firstReach = (pts: EvalPoint[], t: number) =>
  pts.find((p) => p.normalized >= t)?.realTransitions ?? Number.POSITIVE_INFINITY;
const at = (pts: EvalPoint[], n: number) => pts.filter((p) => p.realTransitions <= n).at(-1)!;

/** Central differences of f at x, relative error of g against them. */
function fdRelativeError(f: (x: Float64Array) => number, x: Float64Array, g: ArrayLike<number>, h = 1e-5) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[i] += h;
    xm[i] -= h;
    const fd = (f(xp) - f(xm)) / (2 * h);
    num += (fd - g[i]) ** 2;
    den += g[i] ** 2;
  }
  return Math.sqrt(num / den);
}

test("tabular fit converges to the real log-probabilities (centred per row) as data grow", () => {
  const cfg = SysIdConfigSchema.parse({ explore: "uniform", budget: 20000, batchTrajectories: 10 });
  const run = runSysIdTabular(paper, cfg, Rng.fromSeed(3));
  const target = centredRealLogits(paper);
  const nf = target.length;
  const err = (n: number) => {
    const c = centreLogitRows(at(run.points, n).theta.subarray(0, nf), paper.S);
    return Math.max(...c.map((v, i) => Math.abs(v - target[i])));
  };
  const errs = [200, 2000, 20000].map(err);
  assert.ok(errs[0] > errs[1] && errs[1] > errs[2], `errors ${errs}`);
  assert.ok(errs[2] < 0.2, `error at 20000 transitions ${errs[2]}`);
});

test("must-show: paper-discrete, reward known, soft-normalised ≥ 0.95 within 300 real transitions (median of seeds 0–4)", (t) => {
  const cfg = SysIdConfigSchema.parse({ reward: "known", budget: 300 });
  const runs = SEEDS.map((s) => runSysIdTabular(paper, cfg, Rng.fromSeed(s)));
  const reach = runs.map((r) => firstReach(r.points, 0.95));
  const at300 = runs.map((r) => at(r.points, 300).normalized);
  t.diagnostic(
    `first ≥ 0.95 at ${reach.join(", ")} real transitions; soft-normalised at 300: ${at300.map((x) => x.toFixed(4)).join(", ")}`,
  );
  assert.ok(median(reach) <= 300, `median first reach ${median(reach)}`);
  assert.ok(median(at300) >= 0.95, `median at 300 ${median(at300)}`);
  assert.ok(
    runs.every((r) => r.points[0].normalized < 0.5),
    "the uniform-prior policy starts far from optimal",
  );
});

test("tabular reward 'fitted' learns the rewards of visited pairs; unvisited keep the simulator's", () => {
  const prob = randomProblem(4, 2, 11);
  const cfg = SysIdConfigSchema.parse({ reward: "fitted", budget: 60 });
  const run = runSysIdTabular(prob, cfg, Rng.fromSeed(0));
  const nf = prob.S * prob.A * prob.S;
  let visited = 0;
  for (let sa = 0; sa < prob.S * prob.A; sa++) {
    let n = 0;
    for (let x = 0; x < prob.S; x++) n += run.data.counts[sa * prob.S + x];
    const expect = n > 0 ? prob.real.R[sa] : prob.theta0[nf + sa];
    if (n > 0) visited++;
    assert.ok(Math.abs(run.theta[nf + sa] - expect) < 1e-12, `(s,a) = ${sa}`);
  }
  assert.ok(visited > 0);
});

test("linear fit recovers A, B with an error that shrinks with data; noise estimate ≈ Σ", () => {
  const prob = offContinuous();
  const cfg = SysIdConfigSchema.parse({ inner: "lqr", budget: 2000 });
  const runs = [...SEEDS, 5, 6, 7, 8, 9].map((s) => runSysIdLinear(prob, cfg, Rng.fromSeed(s)));
  const rms = (n: number) => {
    let ss = 0;
    for (const r of runs) {
      const th = at(r.points, n).theta;
      ss += (th[0] - 1) ** 2 + (th[1] - 1) ** 2;
    }
    return Math.sqrt(ss / (2 * runs.length));
  };
  const [e20, e200, e2000] = [20, 200, 2000].map(rms);
  assert.ok(e20 > e200 && e200 > e2000, `rms ${e20} ${e200} ${e2000}`);
  assert.ok(e200 < 0.05 && e2000 < 0.02, `rms ${e200} ${e2000}`);
  for (const r of runs) assert.ok(Math.abs(r.noiseEstimate[0] / 0.04 - 1) < 0.15, `Σ̂ ${r.noiseEstimate[0]}`);
});

test("linear sysid: exact inner solver reaches ≥ 0.99; LQR stays near 0.948 (objective mismatch, DESIGN §4.8)", (t) => {
  const prob = offContinuous();
  for (const reward of ["known", "fitted"] as const) {
    const exact = SEEDS.map((s) =>
      runSysIdLinear(prob, SysIdConfigSchema.parse({ inner: "exact", reward, budget: 400 }), Rng.fromSeed(s)),
    );
    const lqr = SEEDS.map((s) =>
      runSysIdLinear(prob, SysIdConfigSchema.parse({ inner: "lqr", reward, budget: 2000 }), Rng.fromSeed(s)),
    );
    t.diagnostic(
      `${reward}: exact first ≥ 0.99 at ${exact.map((r) => firstReach(r.points, 0.99)).join(", ")}; ` +
        `LQR final ${lqr.map((r) => r.points.at(-1)!.normalized.toFixed(4)).join(", ")}`,
    );
    for (const r of exact) assert.ok(r.points.at(-1)!.normalized >= 0.99);
    for (const r of lqr) {
      const late = r.points.filter((p) => p.realTransitions >= 200).map((p) => p.normalized);
      assert.ok(
        Math.min(...late) > 0.93 && Math.max(...late) < 0.96,
        `LQR late range ${Math.min(...late)}…${Math.max(...late)}`,
      );
      // The fit itself is accurate: the gap is the surrogate objective's, not the model's.
      assert.ok(Math.abs(r.theta[0] - 1) < 0.03 && Math.abs(r.theta[1] - 1) < 0.03);
      if (reward === "fitted") assert.ok(Math.abs(r.theta[2] - 1) < 1e-3 && Math.abs(r.theta[3] - 1) < 1e-3);
    }
  }
});

test("tabular log-likelihood gradient matches finite differences", () => {
  const prob = randomProblem(4, 3, 5);
  const rng = Rng.fromSeed(9);
  const { S, A } = prob;
  const counts = Float64Array.from({ length: S * A * S }, () => Math.floor(20 * rng.uniform()));
  const theta = Float64Array.from({ length: S * A * S + S * A }, () => rng.normal());
  const g = logLikelihoodGradTabular(counts, theta, S, A);
  const err = fdRelativeError((x) => logLikelihoodTabular(counts, x, S, A), theta, g);
  assert.ok(err <= 1e-6, `relative error ${err}`);
  for (let i = S * A * S; i < theta.length; i++) assert.equal(g[i], 0);
});

test("linear log-likelihood gradient matches finite differences (scalar and 2-D)", () => {
  for (const prob of [paperContinuousProblem(), doubleIntegratorProblem()]) {
    const { n, m } = prob;
    const rng = Rng.fromSeed(4);
    const policy = new LinearGaussianPolicy(new Float64Array(m * n).fill(0.3), prob.policyCov, n, m);
    const batches = [
      rolloutLinear(prob, prob.real, policy, 3, 7, rng),
      rolloutLinear(prob, prob.real, policy, 2, 5, rng),
    ];
    const theta = Float64Array.from({ length: n * n + n * m + n + m }, () => 0.5 + 0.2 * rng.normal());
    const g = logLikelihoodGradLinear(prob, batches, theta);
    const err = fdRelativeError((x) => logLikelihoodLinear(prob, batches, x), theta, g, 1e-4);
    assert.ok(err <= 1e-6, `n = ${n}: relative error ${err}`);
  }
});

test("determinism: the same seed gives identical points, another seed differs", () => {
  const tab = SysIdConfigSchema.parse({ budget: 200 });
  const a = runSysIdTabular(paper, tab, Rng.fromSeed(7));
  const b = runSysIdTabular(paper, tab, Rng.fromSeed(7));
  const c = runSysIdTabular(paper, tab, Rng.fromSeed(8));
  assert.deepEqual(a.points, b.points);
  assert.notDeepEqual(a.points, c.points);
  const lin = SysIdConfigSchema.parse({ budget: 200, inner: "lqr" });
  const prob = offContinuous();
  const la = runSysIdLinear(prob, lin, Rng.fromSeed(7));
  const lb = runSysIdLinear(prob, lin, Rng.fromSeed(7));
  assert.deepEqual(la.points, lb.points);
  assert.notDeepEqual(la.points, runSysIdLinear(prob, lin, Rng.fromSeed(8)).points);
});

test("real transitions are counted exactly and end on the budget", () => {
  const cfg = SysIdConfigSchema.parse({ budget: 205, batchTrajectories: 2, batchHorizon: 10 });
  const run = runSysIdTabular(paper, cfg, Rng.fromSeed(0));
  assert.deepEqual(
    run.points.map((p) => p.realTransitions),
    [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 205],
  );
  assert.deepEqual(
    run.points.map((p) => p.iteration),
    run.points.map((_, i) => i),
  );
  assert.equal(
    run.data.counts.reduce((x, y) => x + y, 0),
    205,
  );
  const lin = runSysIdLinear(offContinuous(), { ...cfg, inner: "lqr" }, Rng.fromSeed(0));
  assert.deepEqual(
    lin.points.map((p) => p.realTransitions),
    run.points.map((p) => p.realTransitions),
  );
  assert.equal(
    lin.batches.reduce((k, b) => k + b.N * b.H, 0),
    205,
  );
  assert.equal(lin.pairs, linearPairCount(lin.batches));
  assert.equal(lin.pairs, 20 * 9 + 4);
});

test("hybrid (tabular): identification then bi-level; counts and iterations continue across phases", () => {
  const base = {
    sysidTransitions: 100,
    bilevel: { iterations: 5, realTrajectories: 2, realHorizon: 10 },
  };
  const seen: EvalPoint[] = [];
  const run = runHybridTabular(paper, HybridTabularConfigSchema.parse(base), Rng.fromSeed(1), (p) =>
    seen.push(p),
  );
  assert.deepEqual(seen, run.points);
  assert.equal(run.bilevelStart, 6);
  assert.deepEqual(
    run.points.map((p) => p.realTransitions),
    [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200],
  );
  assert.deepEqual(
    run.points.map((p) => p.iteration),
    run.points.map((_, i) => i),
  );
  // The identification phase is a plain sysid run on the hybrid's first stream.
  const sys = runSysIdTabular(paper, SysIdConfigSchema.parse({ budget: 100 }), Rng.fromSeed(1).split());
  assert.deepEqual(sys.points, run.points.slice(0, 6));
  const withL = runHybridTabular(
    paper,
    HybridTabularConfigSchema.parse({ ...base, likelihoodWeight: 1 }),
    Rng.fromSeed(1),
  );
  assert.deepEqual(withL.points.slice(0, 6), run.points.slice(0, 6));
  assert.notDeepEqual(withL.theta, run.theta);
});

test("hybrid (linear): the bi-level phase lifts LQR past its identification plateau; the likelihood term keeps A, B near the data", () => {
  const prob = paperContinuousProblem();
  const base = { sysidTransitions: 200, bilevel: { inner: "lqr", iterations: 10, stepDecay: 20 } };
  const run = runHybridLinear(prob, HybridLinearConfigSchema.parse(base), Rng.fromSeed(2));
  assert.equal(run.bilevelStart, 11);
  assert.deepEqual(
    run.points.slice(10).map((p) => p.realTransitions),
    Array.from({ length: 11 }, (_, i) => 200 + 4000 * i),
  );
  const plateau = run.points[10].normalized;
  assert.ok(
    plateau < 0.96 && run.points.at(-1)!.normalized > 0.98,
    `${plateau} → ${run.points.at(-1)!.normalized}`,
  );
  const anchored = runHybridLinear(
    prob,
    HybridLinearConfigSchema.parse({ ...base, likelihoodWeight: 1 }),
    Rng.fromSeed(2),
  );
  const fitted = run.points[10].theta;
  assert.deepEqual(anchored.points[10].theta, fitted);
  const drift = (th: Float64Array) => Math.hypot(th[0] - fitted[0], th[1] - fitted[1]);
  assert.ok(
    drift(anchored.theta) < 0.5 * drift(run.theta),
    `drift ${drift(anchored.theta)} vs ${drift(run.theta)}`,
  );
});
