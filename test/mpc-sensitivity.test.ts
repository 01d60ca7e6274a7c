/**
 * du₀*∕dθ of the MPC policies (issue 9, item 2) by the implicit function theorem on the converged KKT
 * conditions (src/mpc/sensitivity.ts), against central finite differences of the full solve: every FD
 * evaluation re-solves from scratch (no warm start) to a tight tolerance. Cases with no bound active, with
 * bounds active at later steps but u₀ free, and with u₀ on its bound (derivative 0), at the nominal
 * ("true") θ and at θ far from it. Bars: 1e-6 relative (linear), 1e-4 (pendulum).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";
import { maxAbs, relativeError } from "../src/math/linalg.ts";
import { cartpoleMpc, type IlqrMpcController, pendulumMpc, solveIlqr } from "../src/mpc/ilqr-mpc.ts";
import { LqMpcController } from "../src/mpc/lq-mpc.ts";
import { controlSensitivity } from "../src/mpc/sensitivity.ts";
import { fdJacobian } from "../src/sensitivity/finite-difference.ts";

type Structure = "none" | "later" | "u0";

/** The active-set structure of a solution, with its strict-complementarity margins (so that ±h does not
 * change the active set: FD would then differentiate across a kink). */
function structure(
  active: Int8Array,
  grad: Float64Array,
  U: Float64Array,
  low: number,
  high: number,
): { kind: Structure; minMultiplier: number; minGap: number } {
  let minMultiplier = Number.POSITIVE_INFINITY;
  let minGap = Number.POSITIVE_INFINITY;
  for (let i = 0; i < U.length; i++)
    if (active[i] !== 0) minMultiplier = Math.min(minMultiplier, Math.abs(grad[i]));
    else minGap = Math.min(minGap, U[i] - low, high - U[i]);
  const kind = active.every((a) => a === 0) ? "none" : active[0] === 0 ? "later" : "u0";
  return { kind, minMultiplier, minGap };
}

test("LQ-MPC: du₀*∕dθ (A, B, log Q, log R, log P) = finite differences of the full solve, no bounds (≤ 1e-6)", (t) => {
  let worst = 0;
  for (const problem of [paperContinuousProblem(), doubleIntegratorProblem()]) {
    const ctl = LqMpcController.fromProblem(problem, { horizon: 20 });
    const far = Float64Array.from(ctl.theta0, (v, i) => v + 0.2 * Math.sin(1 + 2 * i));
    for (const theta of [ctl.theta0, far])
      for (const s of [
        Float64Array.from({ length: problem.n }, (_, i) => 1.5 - i),
        Float64Array.from({ length: problem.n }, (_, i) => -0.4 + 0.9 * i),
      ]) {
        const r = ctl.sensitivity(theta, s, { full: true });
        assert.ok(
          r.solution.active.every((a) => a === 0),
          "no bound (there are none)",
        );
        const fd = fdJacobian(
          (t) => {
            ctl.reset();
            return ctl.solve(t, s).U;
          },
          theta,
          1e-6,
        );
        const nt = theta.length;
        const m = problem.m;
        const e0 = relativeError(r.du0dTheta, fd.subarray(0, m * nt));
        const eU = relativeError(r.dUdTheta ?? [], fd);
        assert.ok(e0 <= 1e-6, `n=${problem.n}, s=${Array.from(s)}: du₀/dθ relative error ${e0}`);
        assert.ok(eU <= 1e-6, `n=${problem.n}: dU/dθ relative error ${eU}`);
        worst = Math.max(worst, e0, eU);
        // By-product: du₀*∕ds = the converged feedback gain.
        const fds = fdJacobian(
          (z) => {
            ctl.reset();
            return ctl.solve(theta, z).U.subarray(0, m);
          },
          s,
          1e-6,
        );
        assert.ok(
          relativeError(r.du0ds, fds) <= 1e-6,
          `du₀/ds relative error ${relativeError(r.du0ds, fds)}`,
        );
      }
  }
  t.diagnostic(`worst relative error (du₀/dθ, dU/dθ), 8 cases without bounds: ${worst.toExponential(2)}`);
});

test("LQ-MPC with active bounds: du₀*∕dθ = finite differences (≤ 1e-6), 0 when u₀ is on its bound", (t) => {
  let worst = 0;
  const problem = doubleIntegratorProblem();
  const ctl = LqMpcController.fromProblem(problem, { horizon: 20, actionLow: [-1], actionHigh: [1] });
  // Model entries moved by ≤ 0.05, every cost weight × e^0.5 (θ index ≥ 6: log Q, log R, log P).
  const far = Float64Array.from(ctl.theta0, (v, i) => v + 0.05 * Math.cos(1 + 3 * i) + (i >= 6 ? 0.5 : 0));
  const seen = new Set<Structure>();
  for (const [theta, s, expect] of [
    [ctl.theta0, [-4, 3], "later"],
    [ctl.theta0, [-1.5, 1.5], "later"],
    [ctl.theta0, [3, 0], "u0"],
    [far, [-1.5, 3.5], "later"],
    [far, [4, 1], "u0"],
  ] as const) {
    ctl.reset();
    const r = ctl.sensitivity(theta, s, { full: true });
    const sol = r.solution;
    const st = structure(sol.active, sol.grad, sol.U, -1, 1);
    assert.equal(st.kind, expect, `s=${s}: active set ${Array.from(sol.active).join("")}`);
    assert.ok(
      sol.active.some((a) => a !== 0),
      "some bound is active",
    );
    assert.ok(
      st.minMultiplier > 1e-4 && st.minGap > 1e-3,
      `strict complementarity: ${st.minMultiplier}, ${st.minGap}`,
    );
    seen.add(st.kind);
    const fd = fdJacobian(
      (t) => {
        ctl.reset();
        return ctl.solve(t, s).U;
      },
      theta,
      1e-6,
    );
    const nt = theta.length;
    if (st.kind === "u0") {
      assert.ok(maxAbs(r.du0dTheta) === 0, "u₀ on its bound: du₀/dθ = 0");
      assert.ok(maxAbs(fd.subarray(0, nt)) === 0, "and finite differences agree (the bound holds u₀)");
    } else {
      const e0 = relativeError(r.du0dTheta, fd.subarray(0, nt));
      assert.ok(e0 <= 1e-6, `s=${s}: du₀/dθ relative error ${e0}`);
      worst = Math.max(worst, e0);
    }
    const eU = relativeError(r.dUdTheta ?? [], fd);
    assert.ok(eU <= 1e-6, `s=${s}: dU/dθ relative error ${eU}`);
    worst = Math.max(worst, eU);
    // The interface method gives the same numbers.
    const u0 = new Float64Array(1);
    const jac = new Float64Array(nt);
    ctl.reset();
    ctl.actAndJacobian(theta, Float64Array.from(s), u0, jac);
    assert.deepEqual(Array.from(jac), Array.from(r.du0dTheta), "actAndJacobian = sensitivity");
    assert.equal(u0[0], sol.U[0], "actAndJacobian's u₀");
  }
  assert.deepEqual([...seen].sort(), ["later", "u0"], "both active-set cases covered");
  t.diagnostic(`worst relative error (du₀/dθ, dU/dθ), 5 cases with active bounds: ${worst.toExponential(2)}`);
});

/** Cold, tight solve (no warm start): what finite differences re-run at θ ± h. */
function coldSolve(ctl: IlqrMpcController, theta: Float64Array, s: ArrayLike<number>) {
  return solveIlqr(ctl.ocp, theta, s, new Float64Array(ctl.ocp.horizon * ctl.ocp.m), {
    gradTol: 1e-13,
    maxIterations: 500,
  });
}

test("DDP-MPC pendulum: du₀*∕dθ (mass, length, damping, log weights) = finite differences (≤ 1e-4), with and without active bounds", (t) => {
  const ctl = pendulumMpc({ horizon: 20 });
  const nominal = ctl.theta0;
  assert.deepEqual(
    ctl.thetaNames,
    [
      "model/mass",
      "model/length",
      "model/damping",
      "cost/log angle",
      "cost/log velocity",
      "cost/log torque",
      "terminal/log angle",
      "terminal/log velocity",
    ],
    "θ layout",
  );
  // Far from the true pendulum: heavier, shorter, damped, other weights.
  const far = Float64Array.from(nominal);
  far[0] = 1.6;
  far[1] = 0.7;
  far[2] = 0.3;
  for (let i = 3; i < far.length; i++) far[i] += 0.7 * Math.cos(3 * i);
  // True model, a heavier terminal angle weight (30): makes "bound active later, u₀ free" reachable.
  const heavyEnd = Float64Array.from(nominal);
  heavyEnd[6] = Math.log(30);
  const cases: [string, Float64Array, number[], Structure][] = [
    ["nominal", nominal, [-0.5, 2], "none"],
    ["nominal", nominal, [0.3, -1], "none"],
    ["nominal", nominal, [-3, -3], "u0"],
    ["heavy terminal", heavyEnd, [-2.9, -4], "later"],
    ["far", far, [-3, 1], "later"],
    ["far", far, [-2.5, 1], "later"],
    ["far", far, [-3, -4], "u0"],
  ];
  const worst = { none: 0, later: 0, u0: 0 };
  for (const [label, theta, s, expect] of cases) {
    const sol = coldSolve(ctl, theta, s);
    assert.ok(sol.converged, `${label} s=${s}: ${sol.status}, ‖g‖ ${sol.gradNorm}`);
    const st = structure(sol.active, sol.grad, sol.U, -2, 2);
    assert.equal(st.kind, expect, `${label} s=${s}: active set ${Array.from(sol.active).join("")}`);
    if (expect !== "none") {
      assert.ok(
        sol.active.some((a) => a !== 0),
        "some bound is active",
      );
      assert.ok(
        st.minMultiplier > 1e-4 && st.minGap > 1e-2,
        `strict complementarity: ${st.minMultiplier}, ${st.minGap}`,
      );
    }
    const r = controlSensitivity(ctl.ocp, theta, sol.X, sol.U, sol.active, { full: true });
    const fd = fdJacobian((t) => coldSolve(ctl, t, s).U, theta, 1e-5);
    const nt = theta.length;
    const eU = relativeError(r.dUdTheta ?? [], fd);
    assert.ok(eU <= 1e-4, `${label} s=${s}: dU/dθ relative error ${eU}`);
    t.diagnostic(`${label} s=${s} (${expect}): dU/dθ relative error ${eU.toExponential(2)}`);
    if (expect === "u0") {
      assert.equal(maxAbs(r.du0dTheta), 0, "u₀ on its bound: du₀/dθ = 0");
      assert.equal(maxAbs(fd.subarray(0, nt)), 0, "finite differences: u₀ stays on the bound");
    } else {
      const e0 = relativeError(r.du0dTheta, fd.subarray(0, nt));
      assert.ok(e0 <= 1e-4, `${label} s=${s}: du₀/dθ relative error ${e0}`);
      assert.ok(maxAbs(r.du0dTheta) > 1e-3, "a nontrivial derivative");
      worst[expect] = Math.max(worst[expect], e0);
      t.diagnostic(`${label} s=${s}: du₀/dθ relative error ${e0.toExponential(2)}`);
    }
  }
  // The controller (warm-started, default tolerance) gives the same Jacobian through the interface.
  const u0 = new Float64Array(1);
  const jac = new Float64Array(nominal.length);
  ctl.actAndJacobian(far, Float64Array.of(-3, 1), u0, jac);
  const ref = coldSolve(ctl, far, [-3, 1]);
  const refJac = controlSensitivity(ctl.ocp, far, ref.X, ref.U, ref.active).du0dTheta;
  assert.ok(
    relativeError(jac, refJac) < 1e-8,
    `actAndJacobian vs tight solve: ${relativeError(jac, refJac)}`,
  );
  assert.ok(Math.abs(u0[0] - ref.U[0]) < 1e-9, "u₀");
});

test("DDP-MPC cart-pole: du₀*∕dθ (five model parameters, log weights) = finite differences (≤ 1e-4)", (t) => {
  const ctl = cartpoleMpc({});
  const far = Float64Array.from(ctl.theta0, (v, i) =>
    i < 5 ? v * (1 + 0.2 * Math.sin(i + 1)) + (i >= 3 ? 0.05 : 0) : v + 0.3 * Math.cos(i),
  );
  for (const [theta, s] of [
    [ctl.theta0, [0.1, -0.2, 0.15, 0.3]],
    [far, [0.5, 0.5, -0.2, -1]],
  ] as const) {
    const sol = coldSolve(ctl, theta, s);
    assert.ok(sol.converged, `cart-pole s=${s}: ${sol.status}`);
    assert.ok(
      sol.active.some((a) => a !== 0),
      "a force bound is active",
    );
    const r = controlSensitivity(ctl.ocp, theta, sol.X, sol.U, sol.active, { full: true });
    const fd = fdJacobian((t) => coldSolve(ctl, t, s).U, theta, 1e-6);
    const eU = relativeError(r.dUdTheta ?? [], fd);
    assert.ok(eU <= 1e-4, `s=${s}: dU/dθ relative error ${eU}`);
    t.diagnostic(`cart-pole s=${s}: dU/dθ relative error ${eU.toExponential(2)}`);
  }
});
