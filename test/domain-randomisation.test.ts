/** Domain randomisation: the policy of the average return over sampled simulators. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { problemParams, thetaFromParams } from "../src/envs/linear-gaussian.ts";
import { problemSimulator } from "../src/envs/tabular.ts";
import { paperContinuousProblem } from "../src/experiments/problems.ts";
import { maximizeExpectedReturn } from "../src/inner/linear-gaussian-exact.ts";
import { discountedLqr } from "../src/inner/lqr.ts";
import { softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { maxAbsDiff } from "../src/math/dense.ts";
import { norm, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { realOptimum } from "../src/outer/bilevel-linear-gaussian.ts";
import {
  averagedLinearObjective,
  averagedTabularObjective,
  DomainRandomisationConfigSchema,
  runDomainRandomisationLinear,
  runDomainRandomisationTabular,
  sampleThetas,
} from "../src/outer/domain-randomisation.ts";
import { paperDiscreteProblem, randomProblem } from "./helpers.ts";

const paper = paperDiscreteProblem();
const continuous = paperContinuousProblem();
const optimum = realOptimum(continuous);

test("σ → 0: the tabular DR policy is soft PI's at θ_centre, the linear gain the exact solver's (1e-8)", () => {
  for (const sigma of [0, 1e-10]) {
    const cfg = DomainRandomisationConfigSchema.parse({ sigma });
    for (const problem of [paper, randomProblem(5, 3, 21)]) {
      const run = runDomainRandomisationTabular(problem, cfg, Rng.fromSeed(1));
      const spi = softPolicyIteration(problemSimulator(problem, problem.theta0), problem.temperature);
      assert.ok(maxAbsDiff(run.pi, spi.pi) <= 1e-8, `σ = ${sigma}: ${maxAbsDiff(run.pi, spi.pi)}`);
    }
    const lin = runDomainRandomisationLinear(continuous, cfg, Rng.fromSeed(1), optimum);
    const exact = maximizeExpectedReturn(continuous, continuous.simulator).K;
    assert.ok(maxAbsDiff(lin.K, exact) <= 1e-8, `σ = ${sigma}: K ${lin.K[0]} vs ${exact[0]}`);
    assert.ok(
      Math.abs(lin.points[0].normalized - 1) < 1e-10,
      "accurate simulator, exact solver: the real optimum",
    );
  }
});

test("the averaged objective's gradient is ≤ 1e-8 at the returned policy (tabular and linear)", () => {
  const cfg = DomainRandomisationConfigSchema.parse({});
  for (const [problem, seed] of [
    [paper, 0],
    [paper, 1],
    [randomProblem(6, 3, 22), 2],
  ] as const) {
    const run = runDomainRandomisationTabular(problem, cfg, Rng.fromSeed(seed));
    const mdps = run.thetas.map((th) => problemSimulator(problem, th));
    const g = averagedTabularObjective(mdps, problem.temperature, run.phi).grad;
    assert.equal(run.thetas.length, 20);
    assert.ok(norm(g) <= 1e-8, `tabular ‖∇‖ = ${norm(g)}`);
    // The optimum is not the centre's soft-PI policy: the average moved it.
    const spi = softPolicyIteration(problemSimulator(problem, problem.theta0), problem.temperature);
    assert.ok(maxAbsDiff(run.pi, spi.pi) > 1e-4);
  }
  for (const seed of [0, 1, 2]) {
    const run = runDomainRandomisationLinear(continuous, cfg, Rng.fromSeed(seed), optimum);
    const { grad, hess } = averagedLinearObjective(continuous, run.thetas, run.K);
    assert.ok(norm(grad) <= 1e-8, `linear ‖∇‖ = ${norm(grad)}`);
    assert.ok(hess[0] < 0, "a maximum");
  }
});

test("the averaged tabular objective's gradient matches central differences at a non-optimal φ (1e-6 relative)", () => {
  for (const [problem, seed] of [
    [paper, 3],
    [randomProblem(4, 3, 23), 4],
  ] as const) {
    const rng = Rng.fromSeed(seed);
    const thetas = sampleThetas(problem.theta0, 0.5, 5, rng);
    const mdps = thetas.map((th) => problemSimulator(problem, th));
    const phi = Float64Array.from({ length: problem.S * problem.A }, () => rng.normal());
    const { grad } = averagedTabularObjective(mdps, problem.temperature, phi);
    const h = 1e-5;
    const fd = Float64Array.from(phi, (_, i) => {
      const p = Float64Array.from(phi);
      p[i] += h;
      const up = averagedTabularObjective(mdps, problem.temperature, p).J;
      p[i] -= 2 * h;
      return (up - averagedTabularObjective(mdps, problem.temperature, p).J) / (2 * h);
    });
    assert.ok(norm(grad) > 1e-2, "not an optimum");
    assert.ok(relativeError(grad, fd) <= 1e-6, `relative error ${relativeError(grad, fd)}`);
  }
});

test("DR consumes no real transitions: one EvalPoint at 0, θ = θ_centre; the linear samples respect the bounds", () => {
  const cfg = DomainRandomisationConfigSchema.parse({ sigma: 1 });
  const tab = runDomainRandomisationTabular(paper, cfg, Rng.fromSeed(5));
  assert.equal(tab.points.length, 1);
  assert.equal(tab.points[0].realTransitions, 0);
  assert.deepEqual(tab.points[0].theta, paper.theta0);
  assert.ok(tab.points[0].normalized > 0.5 && tab.points[0].normalized <= 1);
  const lin = runDomainRandomisationLinear(continuous, cfg, Rng.fromSeed(5), optimum);
  assert.equal(lin.points.length, 1);
  assert.equal(lin.points[0].realTransitions, 0);
  for (const th of lin.thetas) for (let i = 0; i < 4; i++) assert.ok(th[i] >= continuous.lower[i]);
  // σ = 1 around θ_q = 1 puts about 16% of the draws below 0 before redrawing.
  assert.ok(Math.min(...lin.thetas.map((th) => th[2])) < 0.5);
});

test("linear inner 'lqr': LQR on the mean sampled parameters (σ = 0: the accurate simulator's 0.948)", () => {
  const run0 = runDomainRandomisationLinear(
    continuous,
    DomainRandomisationConfigSchema.parse({ inner: "lqr", sigma: 0 }),
    Rng.fromSeed(6),
    optimum,
  );
  assert.ok(Math.abs(run0.points[0].normalized - 0.948) < 1e-3);
  const run = runDomainRandomisationLinear(
    continuous,
    DomainRandomisationConfigSchema.parse({ inner: "lqr" }),
    Rng.fromSeed(6),
    optimum,
  );
  const mean = new Float64Array(4);
  for (const th of run.thetas) for (let i = 0; i < 4; i++) mean[i] += th[i] / run.thetas.length;
  const K = discountedLqr(1, 1, continuous.gamma, problemParams(continuous, mean)).K;
  assert.equal(run.K[0], K[0]);
});

test("determinism: one seed reproduces the DR policy; the centre can be overridden", () => {
  const cfg = DomainRandomisationConfigSchema.parse({});
  const a = runDomainRandomisationTabular(paper, cfg, Rng.fromSeed(9));
  const b = runDomainRandomisationTabular(paper, cfg, Rng.fromSeed(9));
  assert.deepEqual(a.pi, b.pi);
  assert.deepEqual(a.points, b.points);
  const centre = Array.from(thetaFromParams(1, 1, continuous.simulator), (v) => 1.2 * v);
  const lin = runDomainRandomisationLinear(
    continuous,
    DomainRandomisationConfigSchema.parse({ centre, sigma: 0 }),
    Rng.fromSeed(9),
    optimum,
  );
  assert.deepEqual(Array.from(lin.theta), centre);
  const exact = maximizeExpectedReturn(continuous, problemParams(continuous, centre)).K;
  assert.ok(maxAbsDiff(lin.K, exact) <= 1e-8);
});
