/**
 * Tabular MDPs in flat Float64 layout, and the parametric tabular simulator of the bi-level paper
 * (Section 5, "Discrete MDP"): f_θ(s'|s,a) = softmax(θ^f_{s,a})_{s'}, R_θ(s,a) = θ^R_{s,a}.
 *
 * Layouts (DESIGN §5): P[(s*A + a)*S + s'], R[s*A + a], θ = [θ^f (s,a,s') row-major, θ^R (s,a) row-major].
 */
import { tieRows } from "./tabular-family.ts";

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
  /**
   * A smaller simulator family (tabular-family.ts): rows (s, a) with the same group id share their
   * transition logits θ^f_{s,a,·}, length S*A. Absent: every row is free.
   */
  readonly rowGroups?: Int32Array;
}

export const thetaSize = (S: number, A: number): number => S * A * S + S * A;

/**
 * The simulator MDP for parameters θ (pure: computed from θ each call, nothing cached).
 * f_θ(·|s,a) = softmax(θ^f_{s,a}), R_θ = θ^R.
 */
export function simulatorMDP(
  S: number,
  A: number,
  gamma: number,
  mu: Float64Array,
  theta: ArrayLike<number>,
): TabularMDP {
  const nf = S * A * S;
  const P = new Float64Array(nf);
  for (let sa = 0; sa < S * A; sa++) {
    const off = sa * S;
    let m = Number.NEGATIVE_INFINITY;
    for (let x = 0; x < S; x++) m = Math.max(m, theta[off + x]);
    let z = 0;
    for (let x = 0; x < S; x++) {
      P[off + x] = Math.exp(theta[off + x] - m);
      z += P[off + x];
    }
    for (let x = 0; x < S; x++) P[off + x] /= z;
  }
  const R = new Float64Array(S * A);
  for (let i = 0; i < S * A; i++) R[i] = theta[nf + i];
  return { S, A, gamma, mu, P, R };
}

/** The simulator of a problem at θ. */
export function problemSimulator(problem: TabularProblem, theta: ArrayLike<number>): TabularMDP {
  // A tied family's simulator is always a member of it: tied rows use their average logits (for θ already
  // in the family this changes nothing; for any other θ, e.g. an SPSA perturbation, it is the projection).
  const th = problem.rowGroups ? tieRows(Float64Array.from(theta), problem) : theta;
  return simulatorMDP(problem.S, problem.A, problem.gamma, problem.mu, th);
}

/** θ that reproduces an MDP exactly: θ^f = log P (−745 stands in for log 0), θ^R = R. */
export function thetaFromMDP(mdp: TabularMDP): Float64Array {
  const { S, A } = mdp;
  const theta = new Float64Array(thetaSize(S, A));
  for (let i = 0; i < S * A * S; i++) theta[i] = mdp.P[i] > 0 ? Math.log(mdp.P[i]) : -745;
  theta.set(mdp.R, S * A * S);
  return theta;
}

/** Which θ entries adapt: all, transition logits only, or rewards only. Returns a 0/1 mask. */
export function thetaMask(S: number, A: number, which: "all" | "transitions" | "rewards"): Float64Array {
  const m = new Float64Array(thetaSize(S, A));
  const nf = S * A * S;
  for (let i = 0; i < m.length; i++) m[i] = which === "all" || (which === "transitions") === i < nf ? 1 : 0;
  return m;
}
