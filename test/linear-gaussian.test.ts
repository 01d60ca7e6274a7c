/** The continuous example: closed-form return, jets, inner solvers, dK/dθ, real gradients, outer loop. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectedReturn, expectedReturnValue, type Stage } from "../src/critics/linear-gaussian.ts";
import {
  type LinearGaussianProblem,
  logProb,
  logProbGradTheta,
  noiseModel,
  paramsFromTheta,
  reward,
  rewardGradTheta,
  thetaFromParams,
  thetaSize,
} from "../src/envs/linear-gaussian.ts";
import { rolloutLinear } from "../src/envs/linear-gaussian-rollout.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";
import { maximizeExpectedReturn } from "../src/inner/linear-gaussian-exact.ts";
import { discountedLqr, InnerSolveError } from "../src/inner/lqr.ts";
import { relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import {
  LinearBilevelConfigSchema,
  realOptimum,
  runLinearBilevel,
} from "../src/outer/bilevel-linear-gaussian.ts";
import { reinforceGradientK } from "../src/outer/linear-real-gradient.ts";
import { LinearGaussianPolicy } from "../src/policies/linear-gaussian.ts";
import { fdGradient, fdJacobian } from "../src/sensitivity/finite-difference.ts";
import {
  exactSolverSensitivity,
  lqrPolicyGradientSensitivity,
  lqrRiccatiSensitivity,
} from "../src/sensitivity/linear-gaussian.ts";

const paper = paperContinuousProblem();
const di = doubleIntegratorProblem();
const tmpl1 = paper.simulator;

/** A random n×m system with a fixed off-diagonal in Q (n > 1) and short horizon. */
function randomSystem(
  n: number,
  m: number,
  seed: number,
): { sys: LinearGaussianProblem; theta: Float64Array } {
  const rng = Rng.fromSeed(seed);
  const eye = (k: number, s: number) =>
    Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? s : 0));
  const Q = eye(n, 1);
  if (n > 1) {
    Q[1] = 0.1;
    Q[n] = 0.1;
  }
  const base = { A: eye(n, 0.9), B: new Float64Array(n * m).fill(0.5), Q, R: eye(m, 0.5) };
  const sys: LinearGaussianProblem = {
    n,
    m,
    gamma: 0.9,
    lambda: 0.7,
    horizon: 80,
    noiseCov: eye(n, 0.05),
    policyCov: eye(m, 0.2),
    initialCov: eye(n, 1),
    real: base,
    simulator: base,
    lower: new Float64Array(thetaSize(n, m)).fill(Number.NEGATIVE_INFINITY),
  };
  const theta = thetaFromParams(n, m, base).map((v) => v + 0.3 * rng.normal());
  for (let i = n * n + n * m; i < theta.length; i++) theta[i] = Math.max(0.2, Math.abs(theta[i]));
  return { sys, theta };
}

const uniformTheta = (seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float64Array.from({ length: 4 }, () => 0.05 + 0.95 * r.uniform());
};

test("known values of the paper's continuous example (issue 3)", () => {
  const opt = maximizeExpectedReturn(paper, paper.real);
  assert.ok(Math.abs(opt.K[0] - 0.89408) < 5e-6, `K* = ${opt.K[0]}`);
  assert.ok(Math.abs(opt.J - 3.91473) < 5e-6, `J* = ${opt.J}`);
  assert.ok(
    Math.abs(expectedReturn(paper, paper.real, [0]).J - 1.016) < 5e-4,
    "Math.abs(expectedReturn(paper, paper.real, [0]).J - 1.016) < 5e-4",
  );
  const lqr = discountedLqr(1, 1, 0.9, paper.real);
  assert.ok(Math.abs(lqr.K[0] - 0.588403) < 5e-7, `K_lqr = ${lqr.K[0]}`);
  const normalized = expectedReturn(paper, paper.real, lqr.K).J / opt.J;
  assert.ok(Math.abs(normalized - 0.948) <= 0.001, `LQR normalised ${normalized}`);
});

test("the exact inner solver on the accurate simulator returns K*_real (no mismatch); LQR does not", () => {
  const opt = realOptimum(paper);
  const sim = maximizeExpectedReturn(
    paper,
    paramsFromTheta(1, 1, thetaFromParams(1, 1, paper.simulator), tmpl1),
  );
  assert.ok(Math.abs(sim.K[0] - opt.K[0]) < 1e-12, `${sim.K[0]} vs ${opt.K[0]}`);
  assert.ok(sim.gradNorm < 1e-10, "sim.gradNorm < 1e-10");
  assert.ok(
    Math.abs(discountedLqr(1, 1, 0.9, paper.simulator).K[0] - opt.K[0]) > 0.3,
    "Math.abs(discountedLqr(1, 1, 0.9, paper.simulator).K[0] - opt.K[0]) > 0.3",
  );
});

test("closed-form return agrees with Monte Carlo rollouts (independent check), scalar and 2-D", () => {
  for (const [sys, K] of [
    [paper, Float64Array.of(0.6)],
    [di, Float64Array.of(3, 2.5)],
  ] as const) {
    const H = 60;
    const exact = expectedReturn(sys, sys.real, K, { horizon: H }).J;
    const pol = new LinearGaussianPolicy(K, sys.policyCov, sys.n, sys.m);
    const N = 4000;
    const b = rolloutLinear(sys, sys.real, pol, N, H, Rng.fromSeed(7));
    const rets: number[] = [];
    for (let i = 0; i < N; i++) {
      let g = 0;
      for (let t = H - 1; t >= 0; t--) g = b.rewards[i * H + t] + sys.gamma * g;
      rets.push(g);
    }
    const mean = rets.reduce((a, c) => a + c) / N;
    const sd = Math.sqrt(rets.reduce((a, c) => a + (c - mean) ** 2, 0) / (N - 1));
    const z = (mean - exact) / (sd / Math.sqrt(N));
    assert.ok(Math.abs(z) < 4, `n=${sys.n}: MC ${mean} ± ${sd / Math.sqrt(N)} vs exact ${exact}`);
  }
});

test("jets: ∇_K J, ∇_θ J, ∇²_KK J, ∇²_Kθ J match finite differences (exp and quadratic rewards, n = 1, 2, 3)", () => {
  for (const [n, m, seed] of [
    [1, 1, 1],
    [2, 1, 2],
    [3, 2, 3],
  ])
    for (const stage of ["exponential", "quadratic"] as Stage[]) {
      const { sys, theta } = randomSystem(n, m, seed);
      // A stabilising, non-optimal gain (0.8 × the LQR gain): with an unstable closed loop the state
      // covariance grows until the sum is truncated (SIGMA_LIMIT), and finite differences straddle that.
      const K = discountedLqr(n, m, sys.gamma, paramsFromTheta(n, m, theta, sys.simulator)).K.map(
        (v) => 0.8 * v,
      );
      const f = (k: ArrayLike<number>, th: ArrayLike<number>) =>
        expectedReturn(sys, paramsFromTheta(n, m, th, sys.simulator), k, {
          derivatives: "full",
          stage,
          horizon: 80,
        });
      const r = f(K, theta);
      const tag = `n=${n} m=${m} ${stage}`;
      assert.ok(
        relativeError(
          r.gradK,
          fdGradient((k) => f(k, theta).J, K),
        ) < 1e-7,
        `${tag} gradK`,
      );
      assert.ok(
        relativeError(
          r.gradTheta,
          fdGradient((t) => f(K, t).J, theta),
        ) < 1e-7,
        `${tag} gradθ`,
      );
      assert.ok(
        relativeError(
          r.hessKK,
          fdJacobian((k) => f(k, theta).gradK, K),
        ) < 1e-7,
        `${tag} H_KK`,
      );
      assert.ok(
        relativeError(
          r.hessKTheta,
          fdJacobian((t) => f(K, t).gradK, theta),
        ) < 1e-7,
        `${tag} H_Kθ`,
      );
      // The cheaper derivative levels give the same numbers.
      const hk = expectedReturn(sys, paramsFromTheta(n, m, theta, sys.simulator), K, {
        derivatives: "hessK",
        stage,
        horizon: 80,
      });
      assert.ok(relativeError(hk.hessKK, r.hessKK) < 1e-13 && relativeError(hk.gradK, r.gradK) < 1e-13, tag);
    }
});

test("plain-arithmetic return equals the jet return (stable and unstable closed loops)", () => {
  for (const K of [0, 0.3, 0.894, 1.5, 2.2, -0.2, 10])
    assert.ok(
      Math.abs(expectedReturnValue(paper, paper.real, [K]) - expectedReturn(paper, paper.real, [K]).J) <
        1e-13,
      `K = ${K}`,
    );
  for (const K of [
    [0, 0],
    [3, 2.5],
    [10, 7],
    [-1, 0],
    [40, -5],
  ]) {
    const a = expectedReturnValue(di, di.real, K);
    const b = expectedReturn(di, di.real, K).J;
    assert.ok(
      Number.isFinite(a) && Math.abs(a - b) < 1e-12 * Math.max(1, Math.abs(b)),
      `K = ${K}: ${a} vs ${b}`,
    );
  }
});

test("dK/dθ: exact solver (IFT) and LQR (Riccati) vs finite differences of the full solves at θ_real and 5 random θ; LQR routes agree to 1e-8", () => {
  const thetas = [thetaFromParams(1, 1, paper.real), ...[0, 1, 2, 3, 4].map((s) => uniformTheta(100 + s))];
  for (const th of thetas) {
    const p = paramsFromTheta(1, 1, th, tmpl1);
    const ex = maximizeExpectedReturn(paper, p);
    const dK = exactSolverSensitivity(paper, p, ex.K);
    const fd = fdJacobian(
      (t) =>
        maximizeExpectedReturn(paper, paramsFromTheta(1, 1, t, tmpl1), { initK: ex.K, search: "local" }).K,
      th,
    );
    assert.ok(relativeError(dK, fd) <= 1e-6, `exact θ=${Array.from(th)}: ${relativeError(dK, fd)}`);
    const lq = discountedLqr(1, 1, 0.9, p);
    const r1 = lqrRiccatiSensitivity(paper, p, lq);
    const r2 = lqrPolicyGradientSensitivity(paper, p, lq.K);
    const fdl = fdJacobian((t) => discountedLqr(1, 1, 0.9, paramsFromTheta(1, 1, t, tmpl1)).K, th);
    assert.ok(relativeError(r1, fdl) <= 1e-6, `LQR θ=${Array.from(th)}: ${relativeError(r1, fdl)}`);
    assert.ok(relativeError(r2, r1) <= 1e-8, `routes: ${relativeError(r2, r1)}`);
  }
});

test("dK/dθ in n dimensions: 2-D double integrator and a 3×2 system, both solvers vs finite differences", () => {
  const cases: [LinearGaussianProblem, Float64Array][] = [
    [di, thetaFromParams(2, 1, di.real)],
    [randomSystem(3, 2, 9).sys, randomSystem(3, 2, 9).theta],
  ];
  for (const [sys, th] of cases) {
    const { n, m } = sys;
    const P = (t: ArrayLike<number>) => paramsFromTheta(n, m, t, sys.simulator);
    const lq = discountedLqr(n, m, sys.gamma, P(th));
    const r1 = lqrRiccatiSensitivity(sys, P(th), lq);
    const fdl = fdJacobian((t) => discountedLqr(n, m, sys.gamma, P(t)).K, th);
    assert.ok(relativeError(r1, fdl) <= 1e-6, `LQR n=${n}: ${relativeError(r1, fdl)}`);
    assert.ok(relativeError(lqrPolicyGradientSensitivity(sys, P(th), lq.K), r1) <= 1e-8, `routes n=${n}`);
    const ex = maximizeExpectedReturn(sys, P(th));
    const dK = exactSolverSensitivity(sys, P(th), ex.K);
    const fd = fdJacobian((t) => maximizeExpectedReturn(sys, P(t), { initK: ex.K, search: "local" }).K, th);
    assert.ok(relativeError(dK, fd) <= 1e-6, `exact n=${n}: ${relativeError(dK, fd)}`);
  }
});

test("Riccati solution: fixed point, scalar closed form, and zero quadratic policy gradient at K_lqr", () => {
  const th = uniformTheta(5);
  const p = paramsFromTheta(1, 1, th, tmpl1);
  const lq = discountedLqr(1, 1, 0.9, p);
  assert.ok(lq.residual < 1e-12, "lq.residual < 1e-12");
  const [s, a, q, r] = th;
  const P = lq.P[0];
  const g = 0.9;
  assert.ok(
    Math.abs(P - (q + g * s * s * P - (g * s * a * P) ** 2 / (r + g * a * a * P))) < 1e-12,
    "Math.abs(P - (q + g * s * s * P - (g * s * a * P) ** 2 / (r + g * a * a * P))) < 1e-12",
  );
  assert.ok(
    Math.abs(lq.K[0] - (g * a * s * P) / (r + g * a * a * P)) < 1e-14,
    "Math.abs(lq.K[0] - (g * a * s * P) / (r + g * a * a * P)) < 1e-14",
  );
  const pg = expectedReturn(paper, p, lq.K, { derivatives: "gradK", stage: "quadratic" });
  assert.ok(Math.abs(pg.gradK[0]) < 1e-9 * Math.abs(pg.J), `∇_K = ${pg.gradK[0]}`);
  // No discounted-stabilising gain: a clear error, not NaN.
  assert.throws(
    () =>
      discountedLqr(1, 1, 0.9, {
        A: Float64Array.of(3),
        B: Float64Array.of(0),
        Q: Float64Array.of(1),
        R: Float64Array.of(1),
      }),
    InnerSolveError,
  );
});

test("model, reward and policy derivatives vs finite differences", () => {
  const { sys, theta } = randomSystem(2, 2, 11);
  const noise = noiseModel(sys);
  const rng = Rng.fromSeed(3);
  const s = Float64Array.from({ length: 2 }, () => rng.normal());
  const a = Float64Array.from({ length: 2 }, () => rng.normal());
  const s2 = Float64Array.from({ length: 2 }, () => rng.normal());
  const P = (t: ArrayLike<number>) => paramsFromTheta(2, 2, t, sys.simulator);
  const gLp = logProbGradTheta(sys, noise, P(theta), s, a, s2);
  assert.ok(
    relativeError(
      gLp,
      fdGradient((t) => logProb(sys, noise, P(t), s, a, s2), theta),
    ) < 1e-8,
  );
  const gR = rewardGradTheta(sys, P(theta), s, a);
  assert.ok(
    relativeError(
      gR,
      fdGradient((t) => reward(sys, P(t), s, a), theta),
    ) < 1e-8,
  );
  const cov = Float64Array.of(0.3, 0.05, 0.05, 0.2);
  const K = Float64Array.of(0.5, -0.2, 0.1, 0.7);
  const logp = (k: ArrayLike<number>) => new LinearGaussianPolicy(k, cov, 2, 2).logProb(s, a);
  const pol = new LinearGaussianPolicy(K, cov, 2, 2);
  const e3 = relativeError(pol.scoreK(s, a), fdGradient(logp, K));
  assert.ok(e3 < 1e-6, `score: ${e3}`);
  const hess = fdJacobian((k) => new LinearGaussianPolicy(k, cov, 2, 2).scoreK(s, a), K);
  const e4 = relativeError(pol.hessianK(s), hess);
  assert.ok(e4 < 1e-6, `policy Hessian: ${e4}`);
});

test("REINFORCE ∂J/∂K is unbiased for the H-step return (mean of 60 seeds vs exact, z-test), and the baseline cuts its spread", () => {
  const H = 40;
  const K = Float64Array.of(0.6);
  const exact = expectedReturn(paper, paper.real, K, { derivatives: "gradK", horizon: H }).gradK[0];
  const pol = new LinearGaussianPolicy(K, paper.policyCov, 1, 1);
  const stats = (baseline: boolean) => {
    const xs: number[] = [];
    for (let seed = 0; seed < 60; seed++) {
      const b = rolloutLinear(paper, paper.real, pol, 100, H, Rng.fromSeed(seed));
      xs.push(reinforceGradientK(b, pol, paper.gamma, baseline).grad[0]);
    }
    const mean = xs.reduce((a, c) => a + c) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, c) => a + (c - mean) ** 2, 0) / (xs.length - 1));
    return { mean, sd };
  };
  const withB = stats(true);
  const without = stats(false);
  for (const s of [withB, without]) {
    const z = (s.mean - exact) / (s.sd / Math.sqrt(60));
    assert.ok(Math.abs(z) < 4, `mean ${s.mean} sd ${s.sd} vs exact ${exact}`);
  }
  assert.ok(withB.sd < 0.6 * without.sd, `baseline sd ${withB.sd} vs none ${without.sd}`);
});

test("paper-continuous, LQR inner, exact real gradient: reaches ≥ 0.999 within 200 iterations, final θ ≠ (1, 1, 1, 1)", () => {
  const optimum = realOptimum(paper);
  for (const seed of [0, 1]) {
    const rng = Rng.fromSeed(seed);
    const init = rng.split();
    const th0 = Float64Array.from({ length: 4 }, () => init.uniform());
    const cfg = LinearBilevelConfigSchema.parse({ inner: "lqr", iterations: 60 });
    const run = runLinearBilevel(paper, th0, cfg, rng, undefined, optimum);
    assert.ok(run.records[0].normalized < 0.999, "run.records[0].normalized < 0.999");
    assert.ok(
      run.records.some((r) => r.normalized >= 0.999),
      `seed ${seed}`,
    );
    assert.ok(
      Math.max(...Array.from(run.theta, (t) => Math.abs(t - 1))) > 0.05,
      "simulator is not the accurate one",
    );
    assert.ok(
      run.theta[1] >= 1e-3 && run.theta[2] >= 1e-3 && run.theta[3] >= 1e-3,
      "run.theta[1] >= 1e-3 && run.theta[2] >= 1e-3 && run.theta[3] >= 1e-3",
    );
  }
});

test("sampled real gradient: counts real transitions, is deterministic per seed, and improves the LQR policy", () => {
  const optimum = realOptimum(paper);
  const cfg = LinearBilevelConfigSchema.parse({
    inner: "lqr",
    realGradient: "sampled",
    stepDecay: 20,
    iterations: 30,
  });
  const th0 = Float64Array.of(1, 1, 1, 1);
  const a = runLinearBilevel(paper, th0, cfg, Rng.fromSeed(3), undefined, optimum);
  const b = runLinearBilevel(paper, th0, cfg, Rng.fromSeed(3), undefined, optimum);
  assert.deepEqual(
    a.records.map((r) => r.normalized),
    b.records.map((r) => r.normalized),
  );
  assert.equal(a.records.at(-1)!.realTransitions, 30 * 100 * 40);
  assert.ok(
    Math.abs(a.records[0].normalized - 0.9484) < 1e-3,
    "Math.abs(a.records[0].normalized - 0.9484) < 1e-3",
  );
  assert.ok(a.records.at(-1)!.normalized > 0.99, `final ${a.records.at(-1)!.normalized}`);
});
