/**
 * Tabular MDPs in flat Float64 layout, and the parametric tabular simulator of the bi-level paper
 * (Section 5, "Discrete MDP"): f_θ(s'|s,a) = softmax(θ^f_{s,a})_{s'}, R_θ(s,a) = θ^R_{s,a}.
 *
 * Layouts (DESIGN §5): P[(s*A + a)*S + s'], R[s*A + a], θ = [θ^f (s,a,s') row-major, θ^R (s,a) row-major].
 */
export interface TabularMDP {
  readonly S: number;
  readonly A: number;
  readonly gamma: number;
  /** Initial state distribution, length S. */
  readonly mu: Float64Array;
  /** Transition probabilities, length S*A*S, P[(s*A+a)*S+s']. */
  readonly P: Float64Array;
  /** Rewards, length S*A. */
  readonly R: Float64Array;
}

/** A tabular problem: the real MDP and the simulator family with its starting parameters. */
export interface TabularProblem {
  readonly S: number;
  readonly A: number;
  readonly gamma: number;
  /** Entropy temperature τ of the in-sim (and soft real) objective. */
  readonly temperature: number;
  readonly mu: Float64Array;
  readonly real: TabularMDP;
  /** Simulator parameters θ in the DESIGN §5 layout, length S*A*S + S*A. */
  readonly theta0: Float64Array;
}

export const thetaSize = (S: number, A: number): number => S * A * S + S * A;
