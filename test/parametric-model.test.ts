import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type LinearGaussianProblem,
  logProb as lgLogProb,
  reward as lgReward,
  logProbGradTheta,
  noiseModel,
  problemParams,
  rewardGradTheta,
  step,
  thetaFromParams,
} from "../src/envs/linear-gaussian.ts";
import { GaussianMeanModel, linearGaussianModel, tabularModel } from "../src/envs/parametric-model.ts";
import { simulatorMDP } from "../src/envs/tabular.ts";
import { relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { fdGradient, fdJacobian } from "../src/sensitivity/finite-difference.ts";

const H = 1e-5;
const TOL = 1e-6;

// Pendulum-like step, θ = (mass, length, damping), s = (angle, angular velocity), a = (torque):
//   ω′ = ω + dt(−g/l sin q − b ω/(m l²) + u/(m l²)),  q′ = q + dt ω′.
// Reward: minus the mechanical energy and a torque cost, so it depends on m and l.
const DT = 0.05;
const G = 9.81;

function pendulumMean(th: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array) {
  const [m, l, b] = [th[0], th[1], th[2]];
  const c = 1 / (m * l * l);
  const w2 = s[1] + DT * (-(G / l) * Math.sin(s[0]) - b * s[1] * c + a[0] * c);
  out[0] = s[0] + DT * w2;
  out[1] = w2;
}

function pendulumJacobian(
  th: ArrayLike<number>,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  out: Float64Array,
) {
  const [m, l, b] = [th[0], th[1], th[2]];
  const c = 1 / (m * l * l);
  const bwu = b * s[1] - a[0];
  // row 1: ∂ω′/∂(m, l, b); row 0 = dt × row 1
  out[3] = (DT * bwu * c) / m;
  out[4] = DT * ((G / (l * l)) * Math.sin(s[0]) + (2 * bwu * c) / l);
  out[5] = -DT * s[1] * c;
  for (let k = 0; k < 3; k++) out[k] = DT * out[3 + k];
}

const pendulumReward = {
  reward(th: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): number {
    const [m, l] = [th[0], th[1]];
    return -(0.5 * m * l * l * s[1] * s[1] + m * G * l * (1 - Math.cos(s[0]))) - 0.01 * a[0] * a[0];
  },
  gradReward(th: ArrayLike<number>, s: ArrayLike<number>, _a: ArrayLike<number>, out: Float64Array): void {
    const [m, l] = [th[0], th[1]];
    const h = 1 - Math.cos(s[0]);
    out[0] -= 0.5 * l * l * s[1] * s[1] + G * l * h;
    out[1] -= m * l * s[1] * s[1] + m * G * h;
  },
};

function pendulumModel(): GaussianMeanModel {
  return new GaussianMeanModel({
    nTheta: 3,
    obsSize: 2,
    actionSize: 1,
    noiseCov: [0.01, 0.003, 0.003, 0.02],
    mean: { mean: pendulumMean, meanJacobianTheta: pendulumJacobian },
    reward: pendulumReward,
  });
}

test("GaussianMeanModel (pendulum): mean Jacobian, ∇θ log f and ∇θ R match central differences", (t) => {
  const model = pendulumModel();
  const rng = Rng.fromSeed(3);
  let worst = 0;
  for (let k = 0; k < 20; k++) {
    const theta = Float64Array.of(0.5 + rng.uniform(), 0.5 + rng.uniform(), 0.05 + 0.3 * rng.uniform());
    const s = Float64Array.of(2 * rng.normal(), 2 * rng.normal());
    const a = Float64Array.of(rng.normal());
    const s2 = model.sampleNext(theta, s, a, rng);
    const J = new Float64Array(6);
    pendulumJacobian(theta, s, a, J);
    const fdJ = fdJacobian(
      (th) => {
        const o = new Float64Array(2);
        pendulumMean(th, s, a, o);
        return o;
      },
      theta,
      H,
    );
    const eJ = relativeError(J, fdJ);
    const g = new Float64Array(3);
    model.gradLogProb(theta, s, a, s2, g);
    const eL = relativeError(
      g,
      fdGradient((th) => model.logProb(th, s, a, s2), theta, H),
    );
    const gr = new Float64Array(3);
    model.gradReward(theta, s, a, gr);
    const eR = relativeError(
      gr,
      fdGradient((th) => model.reward(th, s, a), theta, H),
    );
    worst = Math.max(worst, eJ, eL, eR);
  }
  assert.ok(worst < TOL, `worst rel. error ${worst}`);
  t.diagnostic(`worst FD rel. error ${worst.toExponential(2)}`);
});

test("GaussianMeanModel: gradients are ADDED; sampling is deterministic and has the right covariance", () => {
  const model = pendulumModel();
  const theta = Float64Array.of(1, 0.8, 0.1);
  const s = Float64Array.of(0.3, -0.5);
  const a = Float64Array.of(0.2);
  const s2 = Float64Array.of(0.25, -0.4);
  const g = new Float64Array(3);
  model.gradLogProb(theta, s, a, s2, g);
  const g2 = Float64Array.from(g);
  model.gradLogProb(theta, s, a, s2, g2);
  assert.ok(
    relativeError(
      g2,
      g.map((x) => 2 * x),
    ) < 1e-15,
  );
  assert.deepEqual(
    model.sampleNext(theta, s, a, Rng.fromSeed(5)),
    model.sampleNext(theta, s, a, Rng.fromSeed(5)),
  );
  // empirical covariance of s′ − μ ≈ Σ
  const mu = new Float64Array(2);
  pendulumMean(theta, s, a, mu);
  const rng = Rng.fromSeed(6);
  const N = 20000;
  const C = new Float64Array(4);
  for (let i = 0; i < N; i++) {
    const x = model.sampleNext(theta, s, a, rng);
    const d = [x[0] - mu[0], x[1] - mu[1]];
    for (let p = 0; p < 2; p++) for (let q = 0; q < 2; q++) C[p * 2 + q] += (d[p] * d[q]) / N;
  }
  assert.ok(relativeError(C, [0.01, 0.003, 0.003, 0.02]) < 0.05, `covariance ${C}`);
  // log-density integrates the Gaussian: at the mean it is −½ log det(2πΣ)
  const det = 0.01 * 0.02 - 0.003 ** 2;
  assert.ok(Math.abs(model.logProb(theta, s, a, mu) + 0.5 * Math.log(4 * Math.PI ** 2 * det)) < 1e-12);
});

function linearProblem(): LinearGaussianProblem {
  const sim = {
    A: Float64Array.of(0.9, 0.1, -0.2, 0.8),
    B: Float64Array.of(0.5, 0, 0.1, 1),
    Q: Float64Array.of(1, 0.2, 0.2, 0.5),
    R: Float64Array.of(0.3, -0.05, -0.05, 0.2),
  };
  return {
    n: 2,
    m: 2,
    gamma: 0.9,
    lambda: 0.7,
    horizon: 400,
    noiseCov: Float64Array.of(0.2, 0.05, 0.05, 0.1),
    policyCov: Float64Array.of(0.1, 0, 0, 0.1),
    initialCov: Float64Array.of(1, 0, 0, 1),
    real: sim,
    simulator: sim,
    lower: Float64Array.from({ length: 12 }, () => Number.NEGATIVE_INFINITY),
  };
}

test("linearGaussianModel equals envs/linear-gaussian.ts (log f, ∇θ log f, R, ∇θ R, step) and FD", (t) => {
  const problem = linearProblem();
  const model = linearGaussianModel(problem);
  const noise = noiseModel(problem);
  const rng = Rng.fromSeed(7);
  let worstRef = 0;
  let worstFd = 0;
  for (let k = 0; k < 10; k++) {
    const theta = thetaFromParams(2, 2, problem.simulator).map((x) => x + 0.2 * rng.normal());
    const p = problemParams(problem, theta);
    const s = Float64Array.of(rng.normal(), rng.normal());
    const a = Float64Array.of(rng.normal(), rng.normal());
    const s2 = model.sampleNext(theta, s, a, Rng.fromSeed(100 + k));
    const ref2 = step(problem, noise, p, s, a, Rng.fromSeed(100 + k));
    worstRef = Math.max(worstRef, relativeError(s2, ref2));
    const lp = model.logProb(theta, s, a, s2);
    worstRef = Math.max(worstRef, Math.abs(lp - lgLogProb(problem, noise, p, s, a, s2)) / Math.abs(lp));
    const g = new Float64Array(model.nTheta);
    model.gradLogProb(theta, s, a, s2, g);
    worstRef = Math.max(worstRef, relativeError(g, logProbGradTheta(problem, noise, p, s, a, s2)));
    const r = model.reward(theta, s, a);
    worstRef = Math.max(worstRef, Math.abs(r - lgReward(problem, p, s, a)) / Math.abs(r));
    const gr = new Float64Array(model.nTheta);
    model.gradReward(theta, s, a, gr);
    worstRef = Math.max(worstRef, relativeError(gr, rewardGradTheta(problem, p, s, a)));
    worstFd = Math.max(
      worstFd,
      relativeError(
        g,
        fdGradient((th) => model.logProb(th, s, a, s2), theta, H),
      ),
      relativeError(
        gr,
        fdGradient((th) => model.reward(th, s, a), theta, H),
      ),
    );
  }
  assert.ok(worstRef < 1e-12, `vs envs/linear-gaussian.ts: ${worstRef}`);
  assert.ok(worstFd < TOL, `vs FD: ${worstFd}`);
  t.diagnostic(`vs reference ${worstRef.toExponential(2)}, vs FD ${worstFd.toExponential(2)}`);
});

test("tabularModel: log f = log softmax(θ^f), gradients vs FD, reward = θ^R, deterministic sampling", (t) => {
  const S = 4;
  const A = 3;
  const model = tabularModel(S, A);
  const rng = Rng.fromSeed(9);
  const theta = Float64Array.from({ length: model.nTheta }, () => 1.5 * rng.normal());
  const mdp = simulatorMDP(S, A, 0.9, new Float64Array(S).fill(1 / S), theta);
  let worst = 0;
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const sv = Float64Array.of(s);
      const av = Float64Array.of(a);
      assert.equal(model.reward(theta, sv, av), mdp.R[s * A + a]);
      const gr = new Float64Array(model.nTheta);
      model.gradReward(theta, sv, av, gr);
      worst = Math.max(
        worst,
        relativeError(
          gr,
          fdGradient((th) => model.reward(th, sv, av), theta, H),
        ),
      );
      for (let x = 0; x < S; x++) {
        const xv = Float64Array.of(x);
        const lp = model.logProb(theta, sv, av, xv);
        assert.ok(Math.abs(lp - Math.log(mdp.P[(s * A + a) * S + x])) < 1e-12);
        const g = new Float64Array(model.nTheta);
        model.gradLogProb(theta, sv, av, xv, g);
        worst = Math.max(
          worst,
          relativeError(
            g,
            fdGradient((th) => model.logProb(th, sv, av, xv), theta, H),
          ),
        );
      }
    }
  assert.ok(worst < TOL, `worst rel. error ${worst}`);
  t.diagnostic(`worst FD rel. error ${worst.toExponential(2)}`);
  const draw = (seed: number) => {
    const r = Rng.fromSeed(seed);
    return Array.from({ length: 50 }, (_, i) => model.sampleNext(theta, [i % S], [i % A], r)[0]);
  };
  assert.deepEqual(draw(1), draw(1));
  // same draws as Rng.categorical on the simulator's P
  const r = Rng.fromSeed(1);
  assert.deepEqual(
    draw(1),
    Array.from({ length: 50 }, (_, i) => r.categorical(mdp.P, ((i % S) * A + (i % A)) * S, S)),
  );
  assert.throws(() => model.logProb(theta, [S], [0], [0]), RangeError);
  assert.throws(() => model.logProb(theta.subarray(1), [0], [0], [0]), RangeError);
});

test("tabularModel.nextDistribution: every next state with probability exp(logProb), summing to 1", () => {
  const S = 4;
  const A = 3;
  const model = tabularModel(S, A);
  const rng = Rng.fromSeed(8);
  const theta = Float64Array.from({ length: model.nTheta }, () => rng.normal());
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const d = model.nextDistribution?.(theta, [s], [a]);
      assert.ok(d !== undefined, "the tabular model has nextDistribution");
      assert.deepEqual(Array.from(d.states), [0, 1, 2, 3], "all states, in order");
      let sum = 0;
      for (let x = 0; x < S; x++) {
        const want = Math.exp(model.logProb(theta, [s], [a], [x]));
        assert.ok(Math.abs(d.probs[x] - want) <= 1e-15, `p(${x}|${s},${a}) ${d.probs[x]} vs ${want}`);
        sum += d.probs[x];
      }
      assert.ok(Math.abs(sum - 1) <= 1e-14, `sum ${sum}`);
    }
});
