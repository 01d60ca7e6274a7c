/**
 * The simplest `DifferentiableController`: a linear state feedback u = clip(−K s) with θ = vec K (m×n,
 * row-major). Its Jacobian is explicit — ∂u_i/∂K_ij = −s_j where u_i is inside its bounds, 0 where the
 * clip is active — which makes it the reference case for the outer level (an unconstrained LQ MPC is a
 * linear feedback u = −K_N(θ) s, so everything the outer level does with an MPC it also does here with
 * the Jacobian known exactly).
 */
import type { DifferentiableController } from "./controller.ts";

export class LinearFeedbackController implements DifferentiableController {
  readonly nTheta: number;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly thetaNames: readonly string[];
  readonly actionLow: Float64Array;
  readonly actionHigh: Float64Array;

  /** Bounds default to ±∞ (no clipping). */
  constructor(n: number, m: number, low?: ArrayLike<number>, high?: ArrayLike<number>) {
    this.stateSize = n;
    this.actionSize = m;
    this.nTheta = m * n;
    this.thetaNames = Array.from({ length: m * n }, (_, e) => `gain/K${Math.floor(e / n)}${e % n}`);
    this.actionLow = low ? Float64Array.from(low) : new Float64Array(m).fill(Number.NEGATIVE_INFINITY);
    this.actionHigh = high ? Float64Array.from(high) : new Float64Array(m).fill(Number.POSITIVE_INFINITY);
    if (this.actionLow.length !== m || this.actionHigh.length !== m)
      throw new RangeError(`action bounds must have ${m} entries`);
  }

  act(theta: Float64Array, s: Float64Array, out: Float64Array): void {
    const { stateSize: n, actionSize: m } = this;
    for (let i = 0; i < m; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v -= theta[i * n + j] * s[j];
      out[i] = Math.min(this.actionHigh[i], Math.max(this.actionLow[i], v));
    }
  }

  actAndJacobian(theta: Float64Array, s: Float64Array, u0: Float64Array, jac: Float64Array): void {
    const { stateSize: n, actionSize: m, nTheta } = this;
    jac.fill(0, 0, m * nTheta);
    for (let i = 0; i < m; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v -= theta[i * n + j] * s[j];
      const lo = this.actionLow[i];
      const hi = this.actionHigh[i];
      u0[i] = Math.min(hi, Math.max(lo, v));
      // Strictly inside: the clip is locally the identity. On the bound (or outside): locally constant.
      if (v > lo && v < hi) for (let j = 0; j < n; j++) jac[i * nTheta + i * n + j] = -s[j];
    }
  }

  reset(): void {
    // Stateless.
  }
}
