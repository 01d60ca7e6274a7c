/**
 * The exact tabular core: inner solver, Theorem-1 terms, IFT, closed form, adjoint — every derivative
 * against central finite differences, at optimal and at non-optimal points.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluatePolicy, softmaxPolicyGradient } from "../src/critics/tabular.ts";
import { problemSimulator, type TabularProblem, thetaFromMDP } from "../src/envs/tabular.ts";
import { policyIteration } from "../src/inner/policy-iteration.ts";
import { softBellmanResidual, softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { axpyAt, dotAt, Lu, maxAbs, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { normalizer } from "../src/outer/normalized-return.ts";
import { exactRealGradient } from "../src/outer/real-gradient.ts";
import { softmaxPolicy, uniformPolicy } from "../src/policies/tabular-softmax.ts";
import { fdGradient, fdInnerSensitivity, fdJacobian } from "../src/sensitivity/finite-difference.ts";
import {
  adjointOuterGradient,
  closedFormSensitivity,
  iftSensitivity,
  jacobianTransposeTimes,
  theorem1Terms,
} from "../src/sensitivity/tabular-exact.ts";
import { paperDiscreteProblem, perturbed, randomProblem } from "./helpers.ts";

const paper = paperDiscreteProblem();
const thetaReal = thetaFromMDP(paper.real);

test("known figures of the paper's discrete example (issue 2)", () => {
  const { real, temperature: tau } = paper;
  const hard = policyIteration(real);
  assert.deepEqual([...hard.actions], [1, 1, 0]); // move, move, stay
  assert.ok(Math.abs(hard.evaluation.J - 14.7225) < 5e-5, `hard optimum ${hard.evaluation.J}`);
  const u = uniformPolicy(3, 2);
  assert.ok(Math.abs(evaluatePolicy(real, u.pi, u.logPi, 0).J - 8.708) < 5e-5);
  assert.ok(Math.abs(softPolicyIteration(real, tau).evaluation.J - 15.3331) < 5e-5);
  assert.ok(Math.abs(evaluatePolicy(real, u.pi, u.logPi, tau).J - 12.1738) < 5e-5);
  const sol = softPolicyIteration(problemSimulator(paper, thetaReal), tau);
  const hardNorm = normalizer(paper).scores(sol.pi, sol.logPi).hard;
  assert.ok(Math.abs(hardNorm - 0.846) < 5e-4, `accurate simulator hard-normalised ${hardNorm}`);
});

test("soft policy iteration is exact: residual ≤ 1e-12 and φ̂ = 0 at its solution", () => {
  for (const [S, A, seed, gamma] of [
    [3, 2, 1, 0.9],
    [10, 5, 2, 0.95],
    [6, 3, 3, 0.99],
    [1, 4, 4, 0.5],
  ]) {
    const p = randomProblem(S, A, seed, gamma);
    const sim = problemSimulator(p, p.theta0);
    const sol = softPolicyIteration(sim, p.temperature);
    assert.ok(sol.iterations <= 10, `iterations ${sol.iterations}`);
    const Q = new Float64Array(S * A).map((_, i) => sol.evaluation.Qt[i] + p.temperature * sol.logPi[i]);
    assert.ok(softBellmanResidual(sim, p.temperature, Q) <= 1e-12 * Math.max(1, maxAbs(Q)));
    const g = softmaxPolicyGradient(sim, sol.pi, sol.evaluation);
    // Rounding floor of φ̂ = d π (Q̃ − V): ε·|Q|·Σd, with Σd = 1/(1 − γ).
    const floor = (1e-13 * Math.max(1, maxAbs(Q))) / (1 - gamma);
    assert.ok(maxAbs(g) < floor, `policy gradient at the solution ${maxAbs(g)} (floor ${floor})`);
  }
});

/** φ̂(φ, θ) and J_τ(φ, θ) as plain functions, for finite differences. */
function maps(p: TabularProblem) {
  const at = (phi: Float64Array, theta: Float64Array) => {
    const sim = problemSimulator(p, theta);
    const pol = softmaxPolicy(phi, p.S, p.A);
    return { sim, pol, ev: evaluatePolicy(sim, pol.pi, pol.logPi, p.temperature) };
  };
  return {
    J: (phi: Float64Array, theta: Float64Array) => at(phi, theta).ev.J,
    phiHat: (phi: Float64Array, theta: Float64Array) => {
      const { sim, pol, ev } = at(phi, theta);
      return softmaxPolicyGradient(sim, pol.pi, ev);
    },
  };
}

for (const [label, problem, thetaOf] of [
  ["paper example", paper, (k: number) => perturbed(thetaReal, 100 + k)],
  ["random 4×3", randomProblem(4, 3, 11), (k: number) => perturbed(randomProblem(4, 3, 11).theta0, 200 + k)],
] as const) {
  test(`${label}: Theorem-1 terms T_A…T_E match finite differences of φ̂ at optimal and non-optimal φ`, () => {
    const { J, phiHat } = maps(problem);
    const n = problem.S * problem.A;
    const rng = Rng.fromSeed(5);
    for (let k = 0; k < 3; k++) {
      const theta = thetaOf(k);
      const sim = problemSimulator(problem, theta);
      const opt = softPolicyIteration(sim, problem.temperature).phi;
      const nonOpt = Float64Array.from(opt, (x) => x + rng.normal());
      for (const [where, phi] of [
        ["optimal", opt],
        ["non-optimal", nonOpt],
      ] as const) {
        const pol = softmaxPolicy(phi, problem.S, problem.A);
        const T = theorem1Terms({ sim, pi: pol.pi, logPi: pol.logPi, tau: problem.temperature });
        if (where === "non-optimal") {
          // ≤ 1e-7‖ref‖ + 1e-8: the absolute floor is the rounding of central differences, (error of J ≈ 1e-14)/2h.
          const fd = fdGradient((x) => J(x, theta), phi);
          const err = relativeError(T.phiHat, fd) * Math.hypot(...fd);
          assert.ok(err <= 1e-7 * Math.hypot(...fd) + 1e-8, `φ̂ = ∇_φ J_τ: abs error ${err}`);
        }
        const Jphi = T.TA.map((v, i) => v + T.TB[i] + T.TC[i]);
        const fdPhi = fdJacobian((x) => phiHat(x, theta), phi);
        assert.ok(relativeError(Jphi, fdPhi) < 1e-7, `${where} J_φ: ${relativeError(Jphi, fdPhi)}`);
        // J_φ is the Hessian of J_τ: symmetric.
        for (let i = 0; i < n; i++)
          for (let j = 0; j < i; j++)
            assert.ok(Math.abs(Jphi[i * n + j] - Jphi[j * n + i]) < 1e-10 * maxAbs(Jphi));
        const Jth = T.TD.map((v, i) => v + T.TE[i]);
        const fdTh = fdJacobian((x) => phiHat(phi, x), theta);
        assert.ok(relativeError(Jth, fdTh) < 1e-7, `${where} J_θ: ${relativeError(Jth, fdTh)}`);
        if (where === "optimal") {
          // At the optimum Q̃ = V per state: T_A + T_C = 0 and T_E = 0, J_φ is T_B alone — which the
          // paper's (14) without the −τ∇log π term would make zero (DESIGN §4.2).
          assert.ok(maxAbs(T.TA.map((v, i) => v + T.TC[i])) < 1e-9 * maxAbs(T.TA));
          assert.ok(maxAbs(T.TE) < 1e-9);
          assert.ok(maxAbs(T.TB) > 1e-3);
        }
      }
    }
  });
}

test("IFT dφ/dθ vs finite differences ≤ 1e-7 at θ_real and 5 random θ; closed form and adjoint agree to 1e-10", () => {
  const thetas = [thetaReal, ...Array.from({ length: 5 }, (_, k) => perturbed(thetaReal, 300 + k))];
  for (const theta of thetas) {
    const sim = problemSimulator(paper, theta);
    const sol = softPolicyIteration(sim, paper.temperature);
    const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau: paper.temperature };
    const ift = iftSensitivity(inp);
    const fd = fdInnerSensitivity(paper, paper.temperature, theta);
    assert.ok(relativeError(ift, fd) <= 1e-7, `IFT vs FD ${relativeError(ift, fd)}`);
    assert.ok(relativeError(closedFormSensitivity(inp), ift) <= 1e-10);
    for (const objective of ["soft", "hard"]) {
      const v = exactRealGradient(
        paper.real,
        sol.pi,
        sol.logPi,
        objective === "soft" ? paper.temperature : 0,
      );
      const viaIft = jacobianTransposeTimes(ift, v, theta.length);
      assert.ok(relativeError(adjointOuterGradient(inp, v), viaIft) <= 1e-10);
    }
  }
});

test("IFT on larger random problems (non-square, γ near 1, one state) vs finite differences", () => {
  for (const [S, A, seed, gamma] of [
    [5, 3, 21, 0.95],
    [2, 4, 22, 0.6],
    [1, 3, 23, 0.9],
  ]) {
    const p = randomProblem(S, A, seed, gamma, 0.4);
    const sim = problemSimulator(p, p.theta0);
    const sol = softPolicyIteration(sim, p.temperature);
    const ift = iftSensitivity({ sim, pi: sol.pi, logPi: sol.logPi, tau: p.temperature });
    const fd = fdInnerSensitivity(p, p.temperature, p.theta0);
    assert.ok(relativeError(ift, fd) <= 1e-7, `${S}×${A}: ${relativeError(ift, fd)}`);
  }
});

test("gauge: dφ/dθ is centred per state and blind to shifting one (s,a)'s transition logits", () => {
  const { S, A } = paper;
  const theta = perturbed(thetaReal, 7);
  const sim = problemSimulator(paper, theta);
  const sol = softPolicyIteration(sim, paper.temperature);
  const J = iftSensitivity({ sim, pi: sol.pi, logPi: sol.logPi, tau: paper.temperature });
  const nth = theta.length;
  for (let c = 0; c < nth; c++)
    for (let s = 0; s < S; s++) {
      let m = 0;
      for (let a = 0; a < A; a++) m += J[(s * A + a) * nth + c];
      assert.ok(Math.abs(m) < 1e-12);
    }
  for (let i = 0; i < S * A; i++)
    for (let sa = 0; sa < S * A; sa++) {
      let sum = 0;
      for (let x = 0; x < S; x++) sum += J[i * nth + sa * S + x];
      assert.ok(Math.abs(sum) < 1e-10);
    }
});

test("real gradient v = ∂J_real/∂φ (soft and hard) and the outer gradient ∇_θ J_real(π*(θ)) vs finite differences", () => {
  const theta = perturbed(thetaReal, 8);
  const sim = problemSimulator(paper, theta);
  const sol = softPolicyIteration(sim, paper.temperature);
  for (const tauObj of [paper.temperature, 0]) {
    const Jr = (phi: Float64Array) => {
      const pol = softmaxPolicy(phi, 3, 2);
      return evaluatePolicy(paper.real, pol.pi, pol.logPi, tauObj).J;
    };
    const nonOpt = perturbed(sol.phi, 9);
    const pol = softmaxPolicy(nonOpt, 3, 2);
    const v = exactRealGradient(paper.real, pol.pi, pol.logPi, tauObj);
    assert.ok(relativeError(v, fdGradient(Jr, nonOpt)) < 1e-8);
    const vOpt = exactRealGradient(paper.real, sol.pi, sol.logPi, tauObj);
    const g = adjointOuterGradient({ sim, pi: sol.pi, logPi: sol.logPi, tau: paper.temperature }, vOpt);
    const fd = fdGradient((th) => {
      const s2 = softPolicyIteration(problemSimulator(paper, th), paper.temperature, {
        tol: 1e-15,
        initPhi: sol.phi,
      });
      return evaluatePolicy(paper.real, s2.pi, s2.logPi, tauObj).J;
    }, theta);
    assert.ok(relativeError(g, fd) < 1e-6, `outer gradient vs FD ${relativeError(g, fd)}`);
  }
});

test("evaluation kernels: dotAt and axpyAt equal plain loops bit for bit; Lu's overwrite option factorises in place", () => {
  const rng = Rng.fromSeed(31);
  for (let n = 0; n <= 9; n++) {
    const a = new Float64Array(n + 3).map(() => rng.normal());
    const b = new Float64Array(n).map(() => rng.normal());
    let ref = 0;
    for (let i = 0; i < n; i++) ref += a[2 + i] * b[i];
    assert.equal(dotAt(a, 2, b, n), ref);
    const y = new Float64Array(n + 1).map(() => rng.normal());
    const yRef = y.slice();
    for (let i = 0; i < n; i++) yRef[1 + i] += 0.7 * a[3 + i];
    axpyAt(0.7, a, 3, y, 1, n);
    assert.deepEqual(y, yRef);
  }
  for (const n of [2, 4, 7]) {
    const m = new Float64Array(n * n).map(() => rng.normal());
    const rhs = new Float64Array(n).map(() => rng.normal());
    const own = m.slice();
    const x = new Lu(own, n, { overwrite: true }).solve(rhs);
    assert.deepEqual(x, new Lu(m, n).solve(rhs));
    assert.notDeepEqual(own, m, "the overwritten input holds the factors");
  }
});

test("evaluatePolicy reuses a factorisation only for the same (P, γ, π): same results as a fresh one, in-place π changes detected", () => {
  const p = randomProblem(6, 3, 41);
  const sim = problemSimulator(p, p.theta0);
  // A copy of the MDP with its own P array never shares a cached factorisation with `sim`.
  const fresh = (pi: Float64Array, logPi: Float64Array, tau: number) =>
    evaluatePolicy({ ...sim, P: sim.P.slice() }, pi, logPi, tau);
  const same = (a: ReturnType<typeof evaluatePolicy>, b: ReturnType<typeof evaluatePolicy>) => {
    for (const k of ["V", "Qt", "PV", "d", "Ppi"] as const) assert.deepEqual(a[k], b[k], k);
    assert.equal(a.J, b.J);
  };
  const pol = softmaxPolicy(perturbed(new Float64Array(18), 42), 6, 3);
  for (const tau of [p.temperature, 0])
    same(evaluatePolicy(sim, pol.pi, pol.logPi, tau), fresh(pol.pi, pol.logPi, tau));
  // Another discount on the same table, then π changed in place: neither may reuse the factors.
  const other = evaluatePolicy({ ...sim, gamma: 0.5 }, pol.pi, pol.logPi, 0);
  same(other, evaluatePolicy({ ...sim, gamma: 0.5, P: sim.P.slice() }, pol.pi, pol.logPi, 0));
  const pol2 = softmaxPolicy(perturbed(new Float64Array(18), 43), 6, 3);
  pol.pi.set(pol2.pi);
  pol.logPi.set(pol2.logPi);
  same(evaluatePolicy(sim, pol.pi, pol.logPi, p.temperature), fresh(pol2.pi, pol2.logPi, p.temperature));
  // P V is the evaluation's expected next value.
  const ev = evaluatePolicy(sim, pol.pi, pol.logPi, p.temperature);
  for (let sa = 0; sa < 18; sa++) {
    let pv = 0;
    for (let x = 0; x < 6; x++) pv += sim.P[sa * 6 + x] * ev.V[x];
    assert.ok(Math.abs(ev.PV[sa] - pv) <= 1e-14 * Math.max(1, Math.abs(pv)));
  }
});
