/**
 * The contract between an MPC solver (the inner level: u₀*(s; θ) from an N-step optimal-control problem)
 * and the outer level that tunes θ on real returns (issue 9). Any controller whose action is a
 * differentiable function of the state and of a parameter vector θ fits: the LQ and iLQR MPC policies
 * (src/mpc/lq-mpc.ts, src/mpc/ilqr-mpc.ts) and, for tests, a plain linear feedback u = −K(θ)s.
 *
 * θ is always an explicit argument (never cached): a controller may keep warm-start state between calls
 * (the previous solution, shifted), which changes the solver's starting point, not its answer.
 */
export interface DifferentiableController {
  /** Length of θ. */
  readonly nTheta: number;
  readonly stateSize: number;
  readonly actionSize: number;
  /** Names of θ's entries, e.g. ["model/mass", "cost/q0", …] (for reports). */
  readonly thetaNames: readonly string[];
  /** Action bounds the controller respects (u₀* is always inside them). */
  readonly actionLow: Float64Array;
  readonly actionHigh: Float64Array;
  /** u₀*(s; θ) into `out` (actionSize). */
  act(theta: Float64Array, s: Float64Array, out: Float64Array): void;
  /**
   * u₀*(s; θ) into `u0` and its Jacobian ∂u₀*∕∂θ into `jac` (actionSize × nTheta, row-major), by the
   * implicit function theorem on the converged solution's optimality conditions.
   */
  actAndJacobian(theta: Float64Array, s: Float64Array, u0: Float64Array, jac: Float64Array): void;
  /** Forget warm-start state (call at episode starts). */
  reset(): void;
}
