/** Sampled estimators and the real side: each against its exact counterpart. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluatePolicy } from "../src/critics/tabular.ts";
import { problemSimulator, thetaFromMDP } from "../src/envs/tabular.ts";
import {
  sampleDiscountedStream,
  sampleTrajectories,
  TabularRealSystem,
} from "../src/envs/tabular-rollout.ts";
import { softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { cosine, maxAbs, median, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { exactRealGradient, reinforceGradient } from "../src/outer/real-gradient.ts";
import { directSecondOrder } from "../src/sensitivity/direct.ts";
import { iftSensitivity, jacobianTransposeTimes, theorem1Terms } from "../src/sensitivity/tabular-exact.ts";
import { sampledTheorem1 } from "../src/sensitivity/tabular-sampled.ts";
import { maxZ, paperDiscreteProblem, perturbed } from "./helpers.ts";

const paper = paperDiscreteProblem();
const thetaReal = thetaFromMDP(paper.real);
const tau = paper.temperature;

function at(theta: Float64Array) {
  const sim = problemSimulator(paper, theta);
  const sol = softPolicyIteration(sim, tau);
  const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau, evaluation: sol.evaluation };
  const v = exactRealGradient(paper.real, sol.pi, sol.logPi, tau);
  const exact = jacobianTransposeTimes(iftSensitivity(inp), v, theta.length);
  return { sim, sol, inp, v, exact };
}

test("sampled Theorem 1 with control variates: median cosine ≥ 0.99 at 1 × 1000 steps (10 seeds × 5 θ)", () => {
  const cos: number[] = [];
  for (let t = 0; t < 5; t++) {
    const { sim, sol, inp, v, exact } = at(perturbed(thetaReal, 400 + t));
    for (let seed = 0; seed < 10; seed++) {
      const batch = sampleDiscountedStream(sim, sol.pi, 1000, Rng.fromSeed(1000 * t + seed));
      cos.push(cosine(jacobianTransposeTimes(sampledTheorem1(inp, batch), v, v.length * 4), exact));
    }
  }
  assert.ok(median(cos) >= 0.99, `median cosine ${median(cos)}`);
});

test("sampled Theorem 1 is consistent: dφ/dθ → exact as the in-sim sample grows", () => {
  const { sim, sol, inp } = at(perturbed(thetaReal, 450));
  const exact = iftSensitivity(inp);
  const errs = [10000, 1000000].map((n) =>
    relativeError(sampledTheorem1(inp, sampleDiscountedStream(sim, sol.pi, n, Rng.fromSeed(3))), exact),
  );
  assert.ok(errs[1] < 0.03, `relative error at 1e6 steps ${errs[1]}`);
  assert.ok(errs[1] < errs[0], `error shrinks: ${errs}`);
});

test("without control variates (the paper's printed estimator) the cosine is far lower", () => {
  const cos: number[] = [];
  for (let t = 0; t < 3; t++) {
    const { sim, sol, inp, v, exact } = at(perturbed(thetaReal, 460 + t));
    for (let seed = 0; seed < 6; seed++) {
      const traj = sampleTrajectories(sim, sol.pi, 1, 1000, Rng.fromSeed(seed));
      cos.push(
        cosine(jacobianTransposeTimes(sampledTheorem1(inp, traj, { controlVariates: false }), v, 24), exact),
      );
    }
  }
  assert.ok(median(cos) < 0.6, `median cosine without control variates ${median(cos)}`);
});

test("direct estimator: its second-order averages are unbiased for (1 − γ)·(J_φ, J_θ) (z-test, 30 batches)", () => {
  const theta = perturbed(thetaReal, 470);
  const { sim, sol, inp } = at(theta);
  const T = theorem1Terms(inp);
  const scale = 1 - paper.gamma;
  const Jphi = T.TA.map((x, i) => scale * (x + T.TB[i] + T.TC[i]));
  const Jth = T.TD.map((x, i) => scale * (x + T.TE[i]));
  const batches = Array.from({ length: 30 }, (_, k) =>
    directSecondOrder(inp, sampleDiscountedStream(sim, sol.pi, 50000, Rng.fromSeed(100 + k))),
  );
  // 180 entries: |z| ≤ 4.5 fails by chance with probability < 2e-3.
  assert.ok(
    maxZ(
      batches.map((b) => b.Hvv),
      Jphi,
    ) < 4.5,
    "∂²νν biased",
  );
  assert.ok(
    maxZ(
      batches.map((b) => b.Hvt),
      Jth,
    ) < 4.5,
    "∂²νθ biased",
  );
});

test("discounted stream visits states with the normalised discounted density (1 − γ) d", () => {
  const { sim, sol } = at(perturbed(thetaReal, 480));
  const batch = sampleDiscountedStream(sim, sol.pi, 200000, Rng.fromSeed(5));
  const freq = new Float64Array(3);
  for (let k = 0; k < batch.length; k++) freq[batch.s[k]] += 1 / batch.length;
  const d = sol.evaluation.d.map((x) => x * (1 - paper.gamma));
  assert.ok(maxAbs(freq.map((f, i) => f - d[i])) < 0.01, `${[...freq]} vs ${[...d]}`);
});

test("REINFORCE with a state baseline is unbiased (soft and hard; z-test) and counts every real transition", () => {
  const { sim, sol } = at(perturbed(thetaReal, 490));
  for (const tauObj of [tau, 0]) {
    const exact = exactRealGradient(paper.real, sol.pi, sol.logPi, tauObj);
    const real = new TabularRealSystem(paper.real);
    const baseline = evaluatePolicy(sim, sol.pi, sol.logPi, tauObj).V;
    const rng = Rng.fromSeed(6);
    // Horizon 150: the truncation bias γ^150 ≈ 1e-7 is far below the standard error.
    const estimates = Array.from({ length: 30 }, () => {
      const est = reinforceGradient(
        real.rollout(sol.pi, 1000, 150, rng),
        3,
        2,
        paper.gamma,
        sol.pi,
        sol.logPi,
        tauObj,
        baseline,
      );
      assert.equal(est.trajectories, 1000);
      return est.v;
    });
    assert.equal(real.transitionsUsed, 30 * 1000 * 150);
    assert.ok(maxZ(estimates, exact) < 4.5, `tauObj ${tauObj}`);
  }
});
