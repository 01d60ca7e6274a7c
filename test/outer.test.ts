/** The outer loop (Algorithm 1), determinism and the RNG. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluatePolicy } from "../src/critics/tabular.ts";
import { problemSimulator, thetaFromMDP } from "../src/envs/tabular.ts";
import { tieRows } from "../src/envs/tabular-family.ts";
import { aggregatedStatesProblem } from "../src/experiments/problems.ts";
import { softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { makeAscent } from "../src/outer/ascent.ts";
import { BilevelConfigSchema, runBilevel } from "../src/outer/bilevel.ts";
import { exactRealGradient } from "../src/outer/real-gradient.ts";
import { fdGradient } from "../src/sensitivity/finite-difference.ts";
import { iftSensitivity, jacobianTransposeTimes } from "../src/sensitivity/tabular-exact.ts";
import { paperDiscreteProblem, perturbed } from "./helpers.ts";

const paper = paperDiscreteProblem();
const thetaReal = thetaFromMDP(paper.real);

test("exact bi-level gradient is an ascent direction: a small step raises the real return", () => {
  for (const objective of ["soft", "hard"] as const)
    for (let k = 0; k < 5; k++) {
      const cfg = BilevelConfigSchema.parse({ iterations: 1, stepSize: 1e-3, objective });
      const run = runBilevel(paper, perturbed(thetaReal, 500 + k), cfg, Rng.fromSeed(k));
      assert.ok(run.records[1].realJ > run.records[0].realJ, `${objective} trial ${k}`);
    }
});

test("paper-discrete with exact ingredients improves every trial and reaches ≥ 0.99 soft-normalised on seed 0", () => {
  const cfg = BilevelConfigSchema.parse({ iterations: 100 });
  const rng = Rng.fromSeed(0);
  const init = rng.split();
  const theta0 = Float64Array.from(thetaReal, (t) => t + init.normal());
  const run = runBilevel(paper, theta0, cfg, rng);
  assert.ok(run.records.some((r) => r.soft >= 0.99));
  assert.ok(run.records.at(-1)!.soft > run.records[0].soft);
  assert.equal(run.records.at(-1)!.realTransitions, 0, "exact real gradient uses no real transitions");
});

test("adapting rewards only leaves the transition logits untouched (and vice versa)", () => {
  const theta0 = perturbed(thetaReal, 600);
  const nf = 18;
  for (const adapt of ["rewards", "transitions"] as const) {
    const run = runBilevel(
      paper,
      theta0,
      BilevelConfigSchema.parse({ iterations: 5, adapt }),
      Rng.fromSeed(1),
    );
    const fixed = adapt === "rewards" ? [0, nf] : [nf, 24];
    for (let i = fixed[0]; i < fixed[1]; i++) assert.equal(run.theta[i], theta0[i]);
    assert.notDeepEqual(run.theta, theta0);
  }
});

test("determinism: one seed reproduces a sampled run bit for bit; another seed differs", () => {
  const cfg = BilevelConfigSchema.parse({ iterations: 15, sensitivity: "sampled", realGradient: "sampled" });
  const theta0 = perturbed(thetaReal, 700);
  const a = runBilevel(paper, theta0, cfg, Rng.fromSeed(42));
  const b = runBilevel(paper, theta0, cfg, Rng.fromSeed(42));
  const c = runBilevel(paper, theta0, cfg, Rng.fromSeed(43));
  assert.deepEqual(a.theta, b.theta);
  assert.deepEqual(
    a.records.map((r) => [r.soft, r.realTransitions]),
    b.records.map((r) => [r.soft, r.realTransitions]),
  );
  assert.notDeepEqual(a.theta, c.theta);
  assert.equal(a.records.at(-1)!.realTransitions, 15 * 10 * 50);
});

test("rng: split streams are independent, state round-trips, normal() has mean 0 and variance 1", () => {
  const root = Rng.fromSeed(1);
  const s1 = root.split();
  const s2 = root.split();
  assert.notEqual(s1.uniform(), s2.uniform());
  const r = Rng.fromSeed(9);
  r.normal();
  const copy = Rng.fromState(r.state());
  assert.deepEqual([r.normal(), r.uniform(), r.normal()], [copy.normal(), copy.uniform(), copy.normal()]);
  let m = 0;
  let v = 0;
  const n = 200000;
  const g = Rng.fromSeed(3);
  for (let i = 0; i < n; i++) {
    const z = g.normal();
    m += z / n;
    v += (z * z) / n;
  }
  assert.ok(Math.abs(m) < 0.01 && Math.abs(v - 1) < 0.015, `mean ${m} var ${v}`);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[g.categorical([0.2, 0.5, 0.3])]++;
  assert.ok(Math.abs(counts[1] / 30000 - 0.5) < 0.015);
});

test("tied family (aggregated states): the projected outer gradient is the gradient of θ ↦ J_real(π*(simulator(θ))) (finite differences)", () => {
  const p = aggregatedStatesProblem();
  const tau = p.temperature;
  const realJ = (theta: Float64Array) => {
    const sol = softPolicyIteration(problemSimulator(p, theta), tau, { tol: 1e-15 });
    return evaluatePolicy(p.real, sol.pi, sol.logPi, tau).J;
  };
  // A tied point and an untied one: the simulator projects, so the gradient is Π∇J at Πθ in both cases.
  for (const theta of [tieRows(perturbed(thetaReal, 700), p), perturbed(thetaReal, 701)]) {
    const sim = problemSimulator(p, theta);
    const sol = softPolicyIteration(sim, tau, { tol: 1e-15 });
    const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau, evaluation: sol.evaluation };
    const v = exactRealGradient(p.real, sol.pi, sol.logPi, tau);
    const g = tieRows(jacobianTransposeTimes(iftSensitivity(inp), v, theta.length), p);
    const fd = fdGradient(realJ, theta);
    const err = relativeError(g, fd);
    assert.ok(err < 1e-6, `relative error ${err}`);
  }
});

test("adam-norm ascent: first step is α along g (direction kept, unlike per-coordinate Adam); steps shrink when gradients disagree", () => {
  const theta = Float64Array.of(0, 0, 0);
  const step = makeAscent("adam-norm", 0.1, 0, theta);
  step(Float64Array.of(3, 4, 0), 0);
  assert.ok(
    Math.abs(theta[0] - 0.06) < 1e-9 && Math.abs(theta[1] - 0.08) < 1e-9 && theta[2] === 0,
    `${theta}`,
  );
  const adam = Float64Array.of(0, 0, 0);
  makeAscent("adam", 0.1, 0, adam)(Float64Array.of(3, 4, 0), 0);
  assert.ok(Math.abs(adam[0] - 0.1) < 1e-6 && Math.abs(adam[1] - 0.1) < 1e-6, `per-coordinate Adam: ${adam}`);
  // Alternating gradients: momentum cancels, so the net displacement stays far below 10 steps of α.
  const th = Float64Array.of(0);
  const st = makeAscent("adam-norm", 0.1, 0, th);
  for (let k = 0; k < 10; k++) st(Float64Array.of(k % 2 === 0 ? 1 : -1), k);
  assert.ok(Math.abs(th[0]) < 0.2, `net displacement ${th[0]}`);
});
