/**
 * Finite-difference checkers: the independent reference every derivative in this package is tested
 * against. Central differences, O(h²) truncation; pick h ≈ 1e-5 for Float64 smooth maps.
 */
import { simulatorMDP, type TabularMDP } from "../envs/tabular.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";

/** Central-difference Jacobian of f: Rⁿ → Rᵐ at x, returned row-major m×n. */
export function fdJacobian(
  f: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  h = 1e-5,
): Float64Array {
  const x0 = Float64Array.from(x);
  const n = x0.length;
  const m = f(x0).length;
  const J = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const xp = Float64Array.from(x0);
    const xm = Float64Array.from(x0);
    xp[j] += h;
    xm[j] -= h;
    const fp = f(xp);
    const fm = f(xm);
    for (let i = 0; i < m; i++) J[i * n + j] = (fp[i] - fm[i]) / (2 * h);
  }
  return J;
}

/** Central-difference gradient of a scalar function. */
export function fdGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): Float64Array {
  return fdJacobian((y) => [f(y)], x, h);
}

/** The inner solution map θ ↦ centred φ*(θ) (soft policy iteration to 1e-14), warm-started at φ0. */
export function innerSolutionMap(
  like: Pick<TabularMDP, "S" | "A" | "gamma" | "mu">,
  tau: number,
  phi0?: ArrayLike<number>,
): (theta: Float64Array) => Float64Array {
  return (theta) =>
    softPolicyIteration(simulatorMDP(like.S, like.A, like.gamma, like.mu, theta), tau, {
      tol: 1e-15,
      initPhi: phi0,
    }).phi;
}

/** dφ*(θ)/dθ by central differences of the inner solver, (S·A)×nθ row-major, centred gauge. */
export function fdInnerSensitivity(
  like: Pick<TabularMDP, "S" | "A" | "gamma" | "mu">,
  tau: number,
  theta: ArrayLike<number>,
  h = 1e-5,
): Float64Array {
  const phi0 = innerSolutionMap(like, tau)(Float64Array.from(theta));
  return fdJacobian(innerSolutionMap(like, tau, phi0), theta, h);
}
