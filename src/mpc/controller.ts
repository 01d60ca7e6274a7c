/**
 * The contract between an MPC solver (the inner level: u₀*(s; θ) from an N-step optimal-control problem)
 * and the outer level that tunes θ on real returns (issue 9). Any controller whose action is a
 * differentiable function of the state and of a parameter vector θ fits: the LQ and iLQR MPC policies
 * (src/mpc/lq-mpc.ts, src/mpc/ilqr-mpc.ts) and, for tests, a plain linear feedback u = −K(θ)s.
 *
 * θ is always an explicit argument (never cached): a controller may keep warm-start state between calls
 * (the previous solution, shifted), which changes the solver's starting point, not its answer.
 */
import type { Ocp } from "./ocp.ts";
import { type ControlSensitivity, controlSensitivity } from "./sensitivity.ts";

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

/** What every OCP solver's solution carries for the sensitivity: controls, states, the active set. */
export interface OcpSolutionCore {
  U: Float64Array;
  X: Float64Array;
  active: Int8Array;
}

/**
 * The part of an MPC controller that does not depend on its solver (LQ or DDP): act = the first control of
 * a (warm-started) solve, its Jacobian by the IFT on that solve (sensitivity.ts), and the warm-start state.
 * A subclass implements `solve`, updating `prev` (its warm start) and `lastSolution`.
 */
export abstract class OcpController<S extends OcpSolutionCore> implements DifferentiableController {
  abstract readonly ocp: Ocp;
  abstract readonly nTheta: number;
  abstract readonly stateSize: number;
  abstract readonly actionSize: number;
  abstract readonly thetaNames: readonly string[];
  abstract readonly actionLow: Float64Array;
  abstract readonly actionHigh: Float64Array;
  /** The last solve (read it for convergence information). */
  lastSolution: S | null = null;
  /** The previous solution's controls, the next warm start (null: cold). */
  protected prev: Float64Array | null = null;

  /** Solve at (θ, s) from the warm start and remember the solution for the next call. */
  abstract solve(theta: Float64Array, s: ArrayLike<number>): S;

  act(theta: Float64Array, s: Float64Array, out: Float64Array): void {
    const sol = this.solve(theta, s);
    for (let j = 0; j < this.actionSize; j++) out[j] = sol.U[j];
  }

  /** u₀*, du₀*∕dθ, du₀*∕ds (and the whole dU*∕dθ with `full`) at (θ, s). */
  sensitivity(
    theta: Float64Array,
    s: ArrayLike<number>,
    options: { full?: boolean } = {},
  ): { solution: S } & ControlSensitivity {
    const solution = this.solve(theta, s);
    return {
      solution,
      ...controlSensitivity(this.ocp, theta, solution.X, solution.U, solution.active, options),
    };
  }

  actAndJacobian(theta: Float64Array, s: Float64Array, u0: Float64Array, jac: Float64Array): void {
    const r = this.sensitivity(theta, s);
    for (let j = 0; j < this.actionSize; j++) u0[j] = r.solution.U[j];
    jac.set(r.du0dTheta);
  }

  reset(): void {
    this.prev = null;
  }
}
