/**
 * MPC solvers (issue 9, item 1): LQ-MPC against the discounted-LQR closed form, the box QP against
 * active-set enumeration, the condensed LQ QP against DDP on the same problem, the models' derivatives
 * against finite differences, and DDP-MPC in closed loop on the pendulum and cart-pole envs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cartpole, cartpoleStep } from "../src/envs/control/cartpole.ts";
import { angleNormalize, pendulum } from "../src/envs/control/pendulum.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";
import { discountedLqr } from "../src/inner/lqr.ts";
import { maxAbs } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { boxQp } from "../src/mpc/box-qp.ts";
import { cartpoleMpc, pendulumMpc, solveIlqr } from "../src/mpc/ilqr-mpc.ts";
import { LqMpcController } from "../src/mpc/lq-mpc.ts";
import { CartpoleDynamics, LinearDynamics, PendulumDynamics } from "../src/mpc/models.ts";
import {
  dynamicsDerivativesBuffer,
  type MpcDynamics,
  type Ocp,
  stageDerivativesBuffer,
  terminalDerivativesBuffer,
} from "../src/mpc/ocp.ts";
import { fdJacobian } from "../src/sensitivity/finite-difference.ts";

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** −K s. */
function lqrAction(K: Float64Array, s: ArrayLike<number>, m: number): Float64Array {
  const n = s.length;
  return Float64Array.from({ length: m }, (_, j) => {
    let u = 0;
    for (let i = 0; i < n; i++) u -= K[j * n + i] * s[i];
    return u;
  });
}

test("LQ-MPC without bounds, terminal P = discounted Riccati solution: u₀* = −K*s of discountedLqr (any N)", () => {
  for (const problem of [paperContinuousProblem(), doubleIntegratorProblem()]) {
    const { n, m, gamma } = problem;
    const lqr = discountedLqr(n, m, gamma, problem.simulator);
    for (const horizon of [1, 30]) {
      const ctl = LqMpcController.fromProblem(problem, { horizon });
      for (const s of [
        Float64Array.from({ length: n }, (_, i) => 1.5 - i),
        Float64Array.from({ length: n }, (_, i) => -0.3 + 2 * i),
      ]) {
        const sol = ctl.solve(ctl.theta0, s);
        const ref = lqrAction(lqr.K, s, m);
        assert.equal(sol.method, "riccati", "no bounds: the Riccati solution");
        assert.ok(
          maxDiff(sol.U.subarray(0, m), ref) <= 1e-12 * (1 + maxAbs(ref)),
          `n=${n} N=${horizon}: u₀ ${sol.U[0]} vs −Ks ${ref[0]}`,
        );
        assert.ok(sol.gradNorm <= 1e-12 * (1 + maxAbs(sol.U)), `KKT residual ${sol.gradNorm}`);
      }
    }
  }
  // At another θ (scalar): the closed form of that model, with θ_P = log P*(θ).
  const p = paperContinuousProblem();
  const ctl = LqMpcController.fromProblem(p, { horizon: 10 });
  const A = 0.8;
  const B = 1.3;
  const Q = 2.5;
  const R = 0.4;
  const ref = discountedLqr(1, 1, p.gamma, {
    A: Float64Array.of(A),
    B: Float64Array.of(B),
    Q: Float64Array.of(Q),
    R: Float64Array.of(R),
  });
  const theta = Float64Array.of(A, B, Math.log(Q), Math.log(R), Math.log(ref.P[0]));
  const u = ctl.solve(theta, [1.7]).U[0];
  assert.ok(Math.abs(u + ref.K[0] * 1.7) <= 1e-12, `θ far from nominal: u₀ ${u} vs ${-ref.K[0] * 1.7}`);
  // Terminal P = Q and a long horizon: the truncation error is O(γ^N).
  const long = LqMpcController.fromProblem(doubleIntegratorProblem(), { horizon: 400, terminal: "stage" });
  const di = doubleIntegratorProblem();
  const K = discountedLqr(2, 1, di.gamma, di.simulator).K;
  const s = [1, -0.5];
  const ul = long.solve(long.theta0, s).U[0];
  assert.ok(Math.abs(ul - lqrAction(K, s, 1)[0]) < 1e-6, `N = 400, P = Q: ${ul} vs ${lqrAction(K, s, 1)[0]}`);
});

test("box QP: projected Newton equals the best KKT point over all 3^k active sets", () => {
  const rng = Rng.fromSeed(7);
  for (let trial = 0; trial < 20; trial++) {
    const k = 4;
    const M = Float64Array.from({ length: k * k }, () => rng.normal());
    const H = new Float64Array(k * k);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        let v = i === j ? 0.1 : 0;
        for (let l = 0; l < k; l++) v += M[l * k + i] * M[l * k + j];
        H[i * k + j] = v;
      }
    const g = Float64Array.from({ length: k }, () => 3 * rng.normal());
    const lo = Float64Array.from({ length: k }, () => -0.5 - rng.uniform());
    const hi = Float64Array.from({ length: k }, () => 0.5 + rng.uniform());
    const f = (x: ArrayLike<number>) => {
      let v = 0;
      for (let i = 0; i < k; i++) {
        let hx = 0;
        for (let j = 0; j < k; j++) hx += H[i * k + j] * x[j];
        v += x[i] * (0.5 * hx + g[i]);
      }
      return v;
    };
    // Enumerate: each variable at lo, at hi, or free (solve the free block); keep feasible KKT points.
    let best = Number.POSITIVE_INFINITY;
    let bestX: Float64Array | null = null;
    for (let code = 0; code < 3 ** k; code++) {
      const state = Array.from({ length: k }, (_, i) => Math.floor(code / 3 ** i) % 3);
      const x = new Float64Array(k);
      const F: number[] = [];
      for (let i = 0; i < k; i++)
        if (state[i] === 0) x[i] = lo[i];
        else if (state[i] === 1) x[i] = hi[i];
        else F.push(i);
      if (F.length > 0) {
        // Gaussian elimination on H_FF x_F = −(g_F + H_FC x_C).
        const nf = F.length;
        const a = F.map((i) => [
          ...F.map((j) => H[i * k + j]),
          -g[i] - x.reduce((s, xv, j) => (F.includes(j) ? s : s + H[i * k + j] * xv), 0),
        ]);
        for (let c = 0; c < nf; c++)
          for (let r = c + 1; r < nf; r++) {
            const t = a[r][c] / a[c][c];
            for (let cc = c; cc <= nf; cc++) a[r][cc] -= t * a[c][cc];
          }
        for (let r = nf - 1; r >= 0; r--) {
          let v = a[r][nf];
          for (let cc = r + 1; cc < nf; cc++) v -= a[r][cc] * x[F[cc]];
          x[F[r]] = v / a[r][r];
        }
      }
      if (x.some((v, i) => v < lo[i] - 1e-12 || v > hi[i] + 1e-12)) continue;
      const fx = f(x);
      if (fx < best) {
        best = fx;
        bestX = x;
      }
    }
    const r = boxQp(H, g, lo, hi, new Float64Array(k));
    assert.ok(r.status === "converged" || r.status === "all-clamped", `trial ${trial}: status ${r.status}`);
    assert.ok(
      bestX !== null && maxDiff(r.x, bestX) < 1e-10,
      `trial ${trial}: ${Array.from(r.x)} vs ${bestX && Array.from(bestX)}`,
    );
    assert.ok(
      r.x.every((v, i) => v >= lo[i] && v <= hi[i]),
      "inside the box",
    );
  }
});

test("LQ-MPC with bounds: controls inside the box, KKT satisfied, equal to DDP on the same problem", () => {
  const problem = doubleIntegratorProblem();
  const ctl = LqMpcController.fromProblem(problem, { horizon: 20, actionLow: [-1], actionHigh: [1] });
  let sawActive = 0;
  for (const s of [
    [-4, 3],
    [-1.5, 1.5],
    [3, 0],
    [0.2, -0.1],
  ]) {
    ctl.reset();
    const sol = ctl.solve(ctl.theta0, s);
    assert.ok(
      sol.U.every((u) => u >= -1 && u <= 1),
      "controls within the bounds",
    );
    assert.ok(sol.gradNorm <= 1e-11, `s=${s}: projected gradient ${sol.gradNorm}`);
    for (let k = 0; k < sol.U.length; k++) {
      // Multipliers: ∂J/∂u ≥ 0 at a lower bound, ≤ 0 at an upper bound.
      if (sol.active[k] === -1) assert.ok(sol.grad[k] >= -1e-11, `multiplier sign at step ${k}`);
      if (sol.active[k] === 1) assert.ok(sol.grad[k] <= 1e-11, `multiplier sign at step ${k}`);
    }
    if (sol.active.some((a) => a !== 0)) sawActive++;
    const ddp = solveIlqr(ctl.ocp, ctl.theta0, s, new Float64Array(20), { gradTol: 1e-13 });
    assert.ok(ddp.converged, `DDP converged (${ddp.status})`);
    assert.ok(maxDiff(ddp.U, sol.U) < 1e-9, `s=${s}: QP vs DDP ${maxDiff(ddp.U, sol.U)}`);
  }
  assert.ok(sawActive >= 3, `bounds active in ${sawActive} of 4 cases`);
});

test("LQ-MPC: warm start gives the cold-start answer; the same calls give the same actions", () => {
  const problem = doubleIntegratorProblem();
  const cfg = { horizon: 20, actionLow: [-1], actionHigh: [1] };
  const warm = LqMpcController.fromProblem(problem, cfg);
  const cold = LqMpcController.fromProblem(problem, { ...cfg, warmStart: false });
  const again = LqMpcController.fromProblem(problem, cfg);
  const s = Float64Array.of(-4, 3);
  const u = new Float64Array(1);
  const v = new Float64Array(1);
  const w = new Float64Array(1);
  for (let t = 0; t < 40; t++) {
    warm.act(warm.theta0, s, u);
    cold.act(cold.theta0, s, v);
    again.act(again.theta0, s, w);
    assert.ok(Math.abs(u[0] - v[0]) < 1e-10, `t=${t}: warm ${u[0]} vs cold ${v[0]}`);
    assert.equal(u[0], w[0], "deterministic");
    const x = s[0] + 0.1 * s[1] + 0.005 * u[0];
    s[1] += 0.1 * u[0];
    s[0] = x;
  }
});

/** Model derivatives against central differences: the Jacobians of the step, and the second derivatives of
 * λᵀf as differences of the (analytic) Jacobians. */
function checkModel(name: string, dyn: MpcDynamics, p: number[], x: number[], u: number[], lam: number[]) {
  const { n, m } = dyn;
  const np = p.length;
  const d = dynamicsDerivativesBuffer(n, m, np);
  dyn.derivatives(p, x, u, lam, true, d);
  const f = (pp: ArrayLike<number>, xx: ArrayLike<number>, uu: ArrayLike<number>) => {
    const o = new Float64Array(n);
    dyn.step(pp, xx, uu, o);
    return o;
  };
  const tol = 1e-7;
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => maxDiff(a, b) / (1 + maxAbs(b));
  // First derivatives (column-major FD → compare row-major n×k).
  const fx = fdJacobian((z) => f(p, z, u), x);
  const fu = fdJacobian((z) => f(p, x, z), u);
  const fp = fdJacobian((z) => f(z, x, u), p);
  assert.ok(rel(d.fx, fx) < tol, `${name} fx: ${rel(d.fx, fx)}`);
  assert.ok(rel(d.fu, fu) < tol, `${name} fu: ${rel(d.fu, fu)}`);
  assert.ok(rel(d.fp, fp) < tol, `${name} fp: ${rel(d.fp, fp)}`);
  // ∇(λᵀf) = (f_xᵀλ, f_uᵀλ, f_pᵀλ) from the analytic Jacobians; its FD Jacobian is the Hessian of λᵀf.
  const gradLf = (pp: ArrayLike<number>, xx: ArrayLike<number>, uu: ArrayLike<number>) => {
    const e = dynamicsDerivativesBuffer(n, m, np);
    dyn.derivatives(pp, xx, uu, null, true, e);
    const gx = Array.from({ length: n }, (_, j) => lam.reduce((s, l, i) => s + l * e.fx[i * n + j], 0));
    const gu = Array.from({ length: m }, (_, j) => lam.reduce((s, l, i) => s + l * e.fu[i * m + j], 0));
    return { gx, gu };
  };
  const hxx = fdJacobian((z) => gradLf(p, z, u).gx, x);
  const hux = fdJacobian((z) => gradLf(p, z, u).gu, x);
  const huu = fdJacobian((z) => gradLf(p, x, z).gu, u);
  const hxp = fdJacobian((z) => gradLf(z, x, u).gx, p);
  const hup = fdJacobian((z) => gradLf(z, x, u).gu, p);
  for (const [k, a, b] of [
    ["hxx", d.hxx, hxx],
    ["hux", d.hux, hux],
    ["huu", d.huu, huu],
    ["hxp", d.hxp, hxp],
    ["hup", d.hup, hup],
  ] as const)
    assert.ok(rel(a, b) < tol, `${name} ${k}: ${rel(a, b)} (${Array.from(a)} vs ${Array.from(b)})`);
}

test("models: exact first and second derivatives (with λ) against finite differences; steps equal the envs'", () => {
  checkModel(
    "pendulum",
    new PendulumDynamics({ g: 10, dt: 0.05, gain: 1 }),
    [1.3, 0.8, 0.2],
    [2.1, -1.7],
    [0.9],
    [0.7, -1.3],
  );
  checkModel(
    "pendulum (top)",
    new PendulumDynamics({ g: 9.8, dt: 0.05, gain: 1.2 }),
    [0.9, 1.2, 0],
    [0.05, 0.3],
    [-1.5],
    [-2, 0.4],
  );
  const cp = new CartpoleDynamics({ gravity: 9.8, forceMag: 10, gain: 1, dt: 0.02 });
  checkModel("cartpole", cp, [1.1, 0.15, 0.6, 0.3, 0.05], [0.2, -0.4, 0.3, 1.1], [0.6], [0.5, -1, 2, 0.3]);
  checkModel(
    "linear",
    new LinearDynamics(2, 1),
    [1, 0.1, -0.2, 0.9, 0.3, 1.1],
    [0.4, -0.7],
    [0.2],
    [1.5, -0.5],
  );
  // The pendulum model is the env's step without its speed clip; the cart-pole's is the env's.
  const env = pendulum();
  const s = Float64Array.of(2.0, -1.5);
  const o = { reward: 0, terminated: false };
  const next = new Float64Array(2);
  new PendulumDynamics({ g: 10, dt: 0.05, gain: 1 }).step([1, 1, 0], s, [1.3], next);
  env.step(env.defaultParams, s, Float64Array.of(1.3), Rng.fromSeed(0), o);
  assert.deepEqual(Array.from(next), Array.from(s), "pendulum model = env step");
  const c = cartpole();
  const x = Float64Array.of(0.1, -0.2, 0.05, 0.3);
  const ref = new Float64Array(4);
  cartpoleStep(c.defaultParams, x, 0.4, ref);
  const out4 = new Float64Array(4);
  cp.step([1, 0.1, 0.5, 0, 0], x, [0.4], out4);
  assert.deepEqual(Array.from(out4), Array.from(ref), "cart-pole model = env step");
});

/** Stage and terminal derivatives of an OCP at (θ, k, x, u, λ) against finite differences. */
function checkOcp(
  name: string,
  ocp: Ocp,
  theta: Float64Array,
  k: number,
  x: number[],
  u: number[],
  lam: number[],
) {
  const { n, m, nTheta: nt } = ocp;
  const d = stageDerivativesBuffer(n, m, nt);
  const L = Float64Array.from(lam);
  ocp.stageDerivatives(theta, k, x, u, L, true, d);
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => maxDiff(a, b) / (1 + maxAbs(b));
  const tol = 1e-7;
  const lx = fdJacobian((z) => [ocp.stageCost(theta, k, z, u)], x);
  const lu = fdJacobian((z) => [ocp.stageCost(theta, k, x, z)], u);
  assert.ok(rel(d.lx, lx) < tol && rel(d.lu, lu) < tol, `${name}: ∇ℓ`);
  // ∇_{x,u}(ℓ + λᵀf) with first derivatives only (the Gauss–Newton call), differenced in x, u and θ.
  const grads = (th: Float64Array, xx: ArrayLike<number>, uu: ArrayLike<number>) => {
    const e = stageDerivativesBuffer(n, m, nt);
    ocp.stageDerivatives(th, k, xx, uu, null, false, e);
    const gx = Array.from(
      { length: n },
      (_, j) => e.lx[j] + lam.reduce((s, l, i) => s + l * e.fx[i * n + j], 0),
    );
    const gu = Array.from(
      { length: m },
      (_, j) => e.lu[j] + lam.reduce((s, l, i) => s + l * e.fu[i * m + j], 0),
    );
    return { gx, gu };
  };
  const hxx = fdJacobian((z) => grads(theta, z, u).gx, x);
  const hux = fdJacobian((z) => grads(theta, z, u).gu, x);
  const huu = fdJacobian((z) => grads(theta, x, z).gu, u);
  const hxt = fdJacobian((z) => grads(z, x, u).gx, theta);
  const hut = fdJacobian((z) => grads(z, x, u).gu, theta);
  const ft = fdJacobian((z) => {
    const o = new Float64Array(n);
    ocp.dynamics(z, x, u, o);
    return o;
  }, theta);
  for (const [key, a, b] of [
    ["hxx", d.hxx, hxx],
    ["hux", d.hux, hux],
    ["huu", d.huu, huu],
    ["hxt", d.hxt, hxt],
    ["hut", d.hut, hut],
    ["ft", d.ft, ft],
  ] as const)
    assert.ok(rel(a, b) < tol, `${name} ${key}: ${rel(a, b)}`);
  const t = terminalDerivativesBuffer(n, nt);
  ocp.terminalDerivatives(theta, x, true, t);
  const Tx = fdJacobian((z) => [ocp.terminalCost(theta, z)], x);
  const Tgrad = (th: Float64Array, xx: ArrayLike<number>) => {
    const e = terminalDerivativesBuffer(n, nt);
    ocp.terminalDerivatives(th, xx, false, e);
    return e.lx;
  };
  assert.ok(rel(t.lx, Tx) < tol, `${name}: ∇T`);
  assert.ok(
    rel(
      t.lxx,
      fdJacobian((z) => Tgrad(theta, z), x),
    ) < tol,
    `${name}: ∇²T`,
  );
  assert.ok(
    rel(
      t.lxt,
      fdJacobian((z) => Tgrad(z, x), theta),
    ) < tol,
    `${name}: ∂∇T/∂θ`,
  );
}

test("parametric OCPs: stage/terminal derivatives in (x, u, θ), with discount and log weights, against finite differences", () => {
  const pend = pendulumMpc({ discount: 0.95 });
  const far = Float64Array.from(pend.theta0, (v, i) => v + 0.3 * Math.sin(i + 1));
  checkOcp("pendulum", pend.ocp, far, 3, [2.5, -1.2], [0.7], [0.4, -0.9]);
  const lq = LqMpcController.fromProblem(doubleIntegratorProblem(), { weights: "direct" });
  checkOcp("lq direct", lq.ocp, lq.theta0, 5, [0.3, -1.1], [0.5], [1.2, 0.7]);
  const lqLog = LqMpcController.fromProblem(doubleIntegratorProblem(), { tune: ["model", "terminal"] });
  checkOcp("lq log, model+terminal", lqLog.ocp, lqLog.theta0, 2, [0.3, -1.1], [0.5], [1.2, 0.7]);
  const cp = cartpoleMpc({ tune: "model" });
  checkOcp("cartpole model", cp.ocp, cp.theta0, 0, [0.1, 0.2, -0.3, 0.5], [-0.4], [1, 2, -1, 0.5]);
  assert.deepEqual(lq.thetaNames.slice(0, 3), ["model/A[0,0]", "model/A[0,1]", "model/A[1,0]"], "θ names");
  assert.equal(lqLog.nTheta, 4 + 2 + 2, "model (A, B) + terminal diag P");
});

test("DDP-MPC swings the pendulum up in the env (true parameters) and holds it; bounds respected, every solve converged", () => {
  const env = pendulum();
  const ctl = pendulumMpc({ horizon: 20 });
  const rng = Rng.fromSeed(0);
  const s = Float64Array.of(Math.PI - 0.2, 0);
  const o = { reward: 0, terminated: false };
  const a = new Float64Array(1);
  let ret = 0;
  let worstLate = 0;
  for (let t = 0; t < env.maxSteps; t++) {
    ctl.act(ctl.theta0, s, a);
    assert.ok(Math.abs(a[0]) <= 2, `torque ${a[0]} within [−2, 2]`);
    env.step(env.defaultParams, s, a, rng, o);
    ret += o.reward;
    if (t >= 150) worstLate = Math.max(worstLate, Math.abs(angleNormalize(s[0])));
  }
  assert.ok(worstLate < 0.01, `upright over the last 50 steps: worst |angle| ${worstLate}`);
  assert.equal(ctl.stats.notConverged, 0, "every solve converged to gradTol");
  assert.ok(
    ctl.stats.iterations / ctl.stats.solves < 5,
    `warm-started: ${ctl.stats.iterations / ctl.stats.solves} iterations per solve`,
  );
  assert.ok(ret > -450, `return ${ret}`);
});

test("DDP-MPC: warm start = cold start (where the minimum is unique), ilqr = ddp, deterministic", () => {
  const env = pendulum();
  const ctl = pendulumMpc({ solver: { gradTol: 1e-12 } });
  const twin = pendulumMpc({ solver: { gradTol: 1e-12 } });
  const rng = Rng.fromSeed(0);
  const s = Float64Array.of(Math.PI - 0.2, 0);
  const o = { reward: 0, terminated: false };
  const a = new Float64Array(1);
  const b = new Float64Array(1);
  for (let t = 0; t < 200; t++) {
    const sol = ctl.solve(ctl.theta0, s);
    twin.act(twin.theta0, s, b);
    assert.equal(sol.U[0], b[0], `t=${t}: same calls, same action`);
    // Steps 15–19 (the swing reverses at the top of a pump) have two local minima, one per direction: the
    // cold start finds the other one there.
    if (t % 10 === 0) {
      const cold = solveIlqr(ctl.ocp, ctl.theta0, s, new Float64Array(20), { gradTol: 1e-12 });
      assert.ok(cold.converged, `t=${t}: cold start converged`);
      assert.ok(maxDiff(cold.U, sol.U) < 1e-9, `t=${t}: warm vs cold ${maxDiff(cold.U, sol.U)}`);
      if (t === 40) {
        const gn = solveIlqr(ctl.ocp, ctl.theta0, s, new Float64Array(20), {
          hessian: "ilqr",
          gradTol: 1e-12,
          maxIterations: 500,
        });
        assert.ok(
          gn.converged && maxDiff(gn.U, sol.U) < 1e-9,
          `ilqr vs ddp: ${gn.status}, ${maxDiff(gn.U, sol.U)}`,
        );
        assert.ok(
          gn.iterations > cold.iterations,
          `Gauss–Newton slower (${gn.iterations} vs ${cold.iterations} iterations)`,
        );
      }
    }
    a[0] = sol.U[0];
    env.step(env.defaultParams, s, a, rng, o);
  }
  // reset() forgets the warm start: the next solve starts from zeros.
  ctl.reset();
  assert.deepEqual(Array.from(ctl.initialGuess()), Array(20).fill(0), "reset clears the warm start");
});

test("DDP-MPC leaves the saddle at the exact bottom (gradient 0 by symmetry) and swings the cart-pole up in its model", () => {
  const pend = pendulumMpc({});
  const bottom = pend.solve(pend.theta0, [Math.PI, 0]);
  assert.equal(bottom.status, "converged", `from (π, 0) with u ≡ 0: ${bottom.status}`);
  assert.ok(Math.abs(bottom.U[0]) > 0.5, `pushes away from the bottom: u₀ = ${bottom.U[0]}`);
  // Cart-pole from hanging straight down (the same symmetric saddle), N = 60 (1.2 s), closed loop on
  // the nominal model (the env terminates beyond 12°).
  const ctl = cartpoleMpc({
    horizon: 60,
    cost: { x: 0.1, xDot: 0.01, angle: 1, angleDot: 0.01, force: 0.01 },
    terminal: { x: 1, xDot: 1, angle: 50, angleDot: 1 },
  });
  const s = Float64Array.of(0, 0, Math.PI, 0);
  const next = new Float64Array(4);
  const a = new Float64Array(1);
  let upAt = -1;
  let maxX = 0;
  for (let t = 0; t < 120; t++) {
    ctl.act(ctl.theta0, s, a);
    ctl.ocp.dynamics(ctl.theta0, s, a, next);
    s.set(next);
    maxX = Math.max(maxX, Math.abs(s[0]));
    if (upAt < 0 && Math.abs(angleNormalize(s[2])) < 0.05) upAt = t;
  }
  assert.ok(upAt >= 0 && upAt < 110, `upright (|ϑ| < 0.05) at step ${upAt}`);
  assert.ok(Math.abs(angleNormalize(s[2])) < 0.05, `still upright at the end: ${angleNormalize(s[2])}`);
  assert.ok(maxX < 2.4, `cart within the track: max |x| ${maxX}`);
  assert.equal(ctl.stats.notConverged, 0, "every solve converged");
});

test("DDP-MPC balances the cart-pole in the env for 500 steps (from a reset and from a 0.18 rad tilt)", () => {
  const env = cartpole();
  for (const tilt of [0, 0.18]) {
    const ctl = cartpoleMpc({});
    const rng = Rng.fromSeed(1);
    const s = new Float64Array(4);
    env.reset(env.defaultParams, s, rng);
    s[2] += tilt;
    const o = { reward: 0, terminated: false };
    const a = new Float64Array(1);
    let steps = 0;
    for (; steps < env.maxSteps; steps++) {
      ctl.act(ctl.theta0, s, a);
      assert.ok(Math.abs(a[0]) <= 1, "action within [−1, 1]");
      env.step(env.defaultParams, s, a, rng, o);
      if (o.terminated) break;
    }
    assert.equal(steps, env.maxSteps, `tilt ${tilt}: survived ${steps} steps`);
    assert.ok(Math.abs(s[2]) < 0.01, `tilt ${tilt}: final angle ${s[2]}`);
    assert.equal(ctl.stats.notConverged, 0, `tilt ${tilt}: every solve converged`);
  }
});
