/**
 * The general sampled Theorem 1 (src/sensitivity/sampled.ts): transposed products against forward ones,
 * the Krylov IFT solve against a dense solve, unbiasedness against the exact tabular Theorem 1 (which
 * test/sensitivity.test.ts checks against finite differences), and the outer gradient against the
 * exact adjoint one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectedReturn } from "../src/critics/linear-gaussian.ts";
import { evaluatePolicy } from "../src/critics/tabular.ts";
import { cholesky, gaussianDraw, problemParams, thetaFromParams } from "../src/envs/linear-gaussian.ts";
import { linearGaussianModel, tabularModel } from "../src/envs/parametric-model.ts";
import { problemSimulator, thetaFromMDP } from "../src/envs/tabular.ts";
import { paperContinuousProblem } from "../src/experiments/problems.ts";
import { maximizeExpectedReturn } from "../src/inner/linear-gaussian-exact.ts";
import { softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { cosine, Lu, median } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { ModelRealSystem, reinforcePolicyGradient } from "../src/outer/bilevel-general.ts";
import { exactRealGradient } from "../src/outer/real-gradient.ts";
import { GaussianMlpPolicy } from "../src/policies/mlp-policies.ts";
import { LinearGaussianPolicyAdapter, TabularSoftmaxPolicy } from "../src/policies/policy.ts";
import {
  SampledTheorem1,
  sampledOuterGradient,
  sampleSegments,
  type ValueFunction,
} from "../src/sensitivity/sampled.ts";
import { adjointOuterGradient, theorem1Terms } from "../src/sensitivity/tabular-exact.ts";
import { maxZ, paperDiscreteProblem, perturbed } from "./helpers.ts";

const paper = paperDiscreteProblem();
const { S, A } = paper;
const tau = paper.temperature;
const tabModel = tabularModel(S, A);
const tabPolicy = new TabularSoftmaxPolicy(S, A);
const tabInit = (rng: Rng) => Float64Array.of(rng.categorical(paper.mu, 0, S));

function softmaxRows(phi: Float64Array): { pi: Float64Array; logPi: Float64Array } {
  const pi = new Float64Array(S * A);
  const logPi = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < A; a++) m = Math.max(m, phi[s * A + a]);
    let z = 0;
    for (let a = 0; a < A; a++) z += Math.exp(phi[s * A + a] - m);
    for (let a = 0; a < A; a++) {
      logPi[s * A + a] = phi[s * A + a] - m - Math.log(z);
      pi[s * A + a] = Math.exp(logPi[s * A + a]);
    }
  }
  return { pi, logPi };
}

/** The tabular example at θ, with φ the soft optimum or a perturbation of it, and its exact soft V. */
function tabularCase(thetaSeed: number, phiNoise: number) {
  const theta = perturbed(thetaFromMDP(paper.real), thetaSeed);
  const sim = problemSimulator(paper, theta);
  const sol = softPolicyIteration(sim, tau);
  const noise = Rng.fromSeed(thetaSeed + 7);
  const phi = Float64Array.from(sol.logPi, (x) => x + phiNoise * noise.normal());
  const { pi, logPi } = softmaxRows(phi);
  const ev = evaluatePolicy(sim, pi, logPi, tau);
  const value: ValueFunction = (o, n, out) => {
    for (let i = 0; i < n; i++) out[i] = ev.V[o[i]];
  };
  return { theta, sim, phi, pi, logPi, ev, value };
}

function tabularOps(c: ReturnType<typeof tabularCase>, n: number, seed: number, extra = {}) {
  const rng = Rng.fromSeed(seed);
  const batch = sampleSegments(tabModel, tabPolicy, c.phi, c.theta, tabInit, paper.gamma, n, rng);
  return new SampledTheorem1(
    tabModel,
    tabPolicy,
    c.phi,
    c.theta,
    batch,
    c.value,
    { gamma: paper.gamma, temperature: tau, ...extra },
    rng,
  );
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const randn = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());

/** A Gaussian MLP policy on the paper's continuous system with an arbitrary smooth V. */
function mlpCase(seed: number, hidden = 8) {
  const problem = paperContinuousProblem();
  const model = linearGaussianModel(problem);
  const policy = new GaussianMlpPolicy(
    { sizes: [1, hidden, 1], activations: ["tanh", "linear"] },
    { logStd: Math.log(0.3) },
  );
  const rng = Rng.fromSeed(seed);
  const phi = policy.init(rng);
  const theta = Float64Array.from(thetaFromParams(1, 1, problem.real), (t) => t + 0.2 * rng.uniform());
  const L0 = cholesky(problem.initialCov, 1);
  const init = (r: Rng) => gaussianDraw(L0, 1, r);
  const batch = sampleSegments(model, policy, phi, theta, init, problem.gamma, 400, rng);
  const value: ValueFunction = (o, n, out) => {
    for (let i = 0; i < n; i++) out[i] = 3 * Math.exp(-0.5 * o[i] * o[i]);
  };
  return { model, policy, phi, theta, batch, value, rng, gamma: problem.gamma };
}

test("transposed products: vᵀ(J_φ u) = uᵀ(J_φᵀ v) and vᵀ(J_θ w) = wᵀ(J_θᵀ v), tabular and MLP, every option", () => {
  const variants = [
    { criticBaseline: "none" as const },
    { criticBaseline: "auto" as const, advantageLambda: 0.7 },
    { controlVariates: false },
  ];
  for (const extra of variants) {
    const c = tabularCase(3, 0.3);
    const ops = tabularOps(c, 500, 1, extra);
    const m = mlpCase(2);
    const mops = new SampledTheorem1(
      m.model,
      m.policy,
      m.phi,
      m.theta,
      m.batch,
      m.value,
      { gamma: m.gamma, temperature: 0, ...extra },
      m.rng,
    );
    for (const o of [ops, mops]) {
      const rng = Rng.fromSeed(11);
      const u = randn(rng, o.nPhi);
      const v = randn(rng, o.nPhi);
      const w = randn(rng, o.nTheta);
      const Ju = new Float64Array(o.nPhi);
      const JTv = new Float64Array(o.nPhi);
      const Jw = new Float64Array(o.nPhi);
      const JTv2 = new Float64Array(o.nTheta);
      o.jphi(u, Ju);
      o.jphiT(v, JTv);
      o.jtheta(w, Jw);
      o.jthetaT(v, JTv2);
      const a1 = dot(v, Ju);
      const b1 = dot(u, JTv);
      const a2 = dot(v, Jw);
      const b2 = dot(w, JTv2);
      assert.ok(
        Math.abs(a1 - b1) <= 1e-11 * (Math.abs(a1) + 1e-3),
        `J_φ: ${a1} vs ${b1} (${JSON.stringify(extra)})`,
      );
      assert.ok(
        Math.abs(a2 - b2) <= 1e-11 * (Math.abs(a2) + 1e-3),
        `J_θ: ${a2} vs ${b2} (${JSON.stringify(extra)})`,
      );
    }
  }
});

test("Krylov IFT solve matches a dense solve to 1e-8 (tabular and a 25-parameter MLP, GMRES and BiCGSTAB)", () => {
  const m = mlpCase(4, 8);
  const mops = new SampledTheorem1(
    m.model,
    m.policy,
    m.phi,
    m.theta,
    m.batch,
    m.value,
    { gamma: m.gamma, temperature: 0 },
    m.rng,
  );
  const c = tabularCase(5, 0.2);
  const tops = tabularOps(c, 2000, 2);
  for (const [ops, damping] of [
    [tops, 1e-3],
    [mops, 0.05],
  ] as const) {
    const p = ops.nPhi;
    const J = ops.denseJphi();
    const Jth = ops.denseJtheta();
    // (−J_φᵀ + λI) y = g, dense.
    const M = new Float64Array(p * p);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < p; j++) M[i * p + j] = -J[j * p + i] + (i === j ? damping : 0);
    const g = randn(Rng.fromSeed(9), p);
    const y = new Lu(M, p).solve(g);
    const want = new Float64Array(ops.nTheta);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < ops.nTheta; j++) want[j] += Jth[i * ops.nTheta + j] * y[i];
    for (const solver of ["gmres", "bicgstab"] as const) {
      const r = sampledOuterGradient(ops, g, { damping, solver, tol: 1e-12, maxIterations: 500 });
      let err = 0;
      let ny = 0;
      for (let i = 0; i < p; i++) {
        err = Math.max(err, Math.abs(r.solve.x[i] - y[i]));
        ny = Math.max(ny, Math.abs(y[i]));
      }
      assert.ok(err <= 1e-8 * ny, `${solver} (p = ${p}): max |y − y_dense| = ${err}, max |y| = ${ny}`);
      let ge = 0;
      let gn = 0;
      for (let j = 0; j < want.length; j++) {
        ge = Math.max(ge, Math.abs(r.grad[j] - want[j]));
        gn = Math.max(gn, Math.abs(want[j]));
      }
      assert.ok(ge <= 1e-8 * gn, `${solver}: outer gradient error ${ge} (scale ${gn})`);
    }
  }
});

test("sampled J_φ and J_θ are unbiased for the exact Theorem-1 terms (z-test, 40 batches; optimal and non-optimal φ)", () => {
  for (const [thetaSeed, phiNoise] of [
    [21, 0],
    [22, 0.5],
  ]) {
    const c = tabularCase(thetaSeed, phiNoise);
    const exact = theorem1Terms({ sim: c.sim, pi: c.pi, logPi: c.logPi, tau, evaluation: c.ev });
    const Jphi = exact.TA.map((x, i) => x + exact.TB[i] + exact.TC[i]);
    const Jth = exact.TD.map((x, i) => x + exact.TE[i]);
    const estPhi: Float64Array[] = [];
    const estTh: Float64Array[] = [];
    for (let k = 0; k < 40; k++) {
      const ops = tabularOps(c, 3000, 100 * thetaSeed + k);
      estPhi.push(ops.denseJphi());
      estTh.push(ops.denseJtheta());
    }
    const zPhi = maxZ(estPhi, Jphi);
    const zTh = maxZ(estTh, Jth);
    // 36 + 144 entries: |z| ≤ 4.5 has a family-wise false-alarm rate below 0.2%.
    assert.ok(zPhi < 4.5, `J_φ max |z| ${zPhi} (φ noise ${phiNoise})`);
    assert.ok(zTh < 4.5, `J_θ max |z| ${zTh} (φ noise ${phiNoise})`);
  }
});

test("outer gradient through the general engine vs the exact adjoint on the paper's discrete example: median cosine ≥ 0.98 at 10⁵ samples", () => {
  const cos: number[] = [];
  const cosPlain: number[] = [];
  for (let t = 0; t < 5; t++) {
    const c = tabularCase(400 + t, 0);
    const v = exactRealGradient(paper.real, c.pi, c.logPi, tau);
    const exact = adjointOuterGradient({ sim: c.sim, pi: c.pi, logPi: c.logPi, tau, evaluation: c.ev }, v);
    cos.push(cosine(sampledOuterGradient(tabularOps(c, 100000, t), v, { damping: 1e-6 }).grad, exact));
    const plain = tabularOps(c, 100000, t, { controlVariates: false });
    cosPlain.push(cosine(sampledOuterGradient(plain, v, { damping: 1e-6 }).grad, exact));
  }
  assert.ok(median(cos) >= 0.98, `median cosine ${median(cos)} (${cos.map((x) => x.toFixed(3))})`);
  assert.ok(median(cosPlain) < median(cos), `control variates help: ${median(cosPlain)} vs ${median(cos)}`);
});

test("continuous states: sampled J_φ, J_θ are unbiased for the exact ∇²_KK J and ∇²_Kθ J of the linear-Gaussian engine (z-test; K optimal and not)", () => {
  const problem = paperContinuousProblem();
  const model = linearGaussianModel(problem);
  const policy = new LinearGaussianPolicyAdapter(1, 1, problem.policyCov);
  const L0 = cholesky(problem.initialCov, 1);
  const init = (r: Rng) => gaussianDraw(L0, 1, r);
  const theta = Float64Array.of(0.9, 1.2, 0.8, 1.1);
  const p = problemParams(problem, theta);
  // Any V keeps GAE λ = 1 unbiased (V is only a baseline there); a V fitted by least squares to
  // Monte-Carlo returns of a separate pilot batch keeps the variance low enough for a sharp test.
  const feats = (x: number) => [
    1,
    Math.exp(-x * x),
    Math.exp((-x * x) / 4),
    Math.exp(-4 * x * x),
    Math.exp((-x * x) / 16),
  ];
  const fitValue = (K: number): ValueFunction => {
    const b = sampleSegments(
      model,
      policy,
      Float64Array.of(K),
      theta,
      init,
      problem.gamma,
      50000,
      Rng.fromSeed(99),
    );
    const q = 5;
    const M = new Float64Array(q * q);
    const r = new Float64Array(q);
    let G = 0;
    for (let k = b.n - 1; k >= 0; k--) {
      G = b.last[k] ? b.reward[k] : b.reward[k] + G;
      const f = feats(b.obs[k]);
      for (let i = 0; i < q; i++) {
        r[i] += f[i] * G;
        for (let j = 0; j < q; j++) M[i * q + j] += f[i] * f[j];
      }
    }
    for (let i = 0; i < q; i++) M[i * q + i] += 1e-8 * b.n;
    const w = new Lu(M, q).solve(r);
    return (o, n, out) => {
      for (let i = 0; i < n; i++) out[i] = dot(w, feats(o[i]));
    };
  };
  const Kstar = maximizeExpectedReturn(problem, p).K[0];
  for (const K of [Kstar, 0.4]) {
    const exact = expectedReturn(problem, p, [K], { derivatives: "full" });
    const phi = Float64Array.of(K);
    const value = fitValue(K);
    const estPhi: Float64Array[] = [];
    const estTh: Float64Array[] = [];
    for (let k = 0; k < 60; k++) {
      const rng = Rng.fromSeed(500 + k);
      const batch = sampleSegments(model, policy, phi, theta, init, problem.gamma, 4000, rng);
      const ops = new SampledTheorem1(
        model,
        policy,
        phi,
        theta,
        batch,
        value,
        { gamma: problem.gamma, temperature: 0, advantageLambda: 1 },
        rng,
      );
      estPhi.push(ops.denseJphi());
      estTh.push(ops.denseJtheta());
    }
    const zPhi = maxZ(estPhi, exact.hessKK);
    const zTh = maxZ(estTh, exact.hessKTheta);
    assert.ok(zPhi < 4, `∇²_KK: max |z| ${zPhi} at K = ${K} (exact ${exact.hessKK[0]})`);
    assert.ok(zTh < 4, `∇²_Kθ: max |z| ${zTh} at K = ${K} (exact ${Array.from(exact.hessKTheta)})`);
  }
});

test("REINFORCE ∂J_real/∂φ from rollouts is unbiased for the exact ∇_K J (linear policy, z-test over 30 batches)", () => {
  const problem = paperContinuousProblem();
  const model = linearGaussianModel(problem);
  const policy = new LinearGaussianPolicyAdapter(1, 1, problem.policyCov);
  const L0 = cholesky(problem.initialCov, 1);
  const init = (r: Rng) => gaussianDraw(L0, 1, r);
  const thetaReal = thetaFromParams(1, 1, problem.real);
  const real = new ModelRealSystem(model, thetaReal, init);
  const phi = Float64Array.of(0.5);
  const exact = expectedReturn(problem, problem.real, phi, { derivatives: "gradK" }).gradK;
  const baseline: ValueFunction = (o, n, out) => {
    for (let i = 0; i < n; i++) out[i] = 2 * Math.exp(-o[i] * o[i]);
  };
  const est: Float64Array[] = [];
  for (let k = 0; k < 30; k++)
    est.push(
      reinforcePolicyGradient(
        policy,
        phi,
        real.rollout(policy, phi, 100, 120, Rng.fromSeed(k)),
        0.9,
        baseline,
      ),
    );
  assert.equal(real.transitionsUsed, 30 * 100 * 120, "every real transition is counted");
  const z = maxZ(est, exact);
  assert.ok(z < 4, `max |z| ${z}: mean ${est.reduce((s, e) => s + e[0], 0) / 30} vs exact ${exact[0]}`);
});
