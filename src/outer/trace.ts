/**
 * The common currency of method comparisons (issue 5): every outer-level method — bi-level, system
 * identification, zeroth-order search, domain randomisation, hybrids — reports evaluations of its current
 * policy against the real transitions it has consumed so far. Evaluation itself uses the known real system
 * (sim-to-sim benchmarks) and never counts as consumption.
 */
export interface EvalPoint {
  /** Method iteration (0 = before any real data). */
  iteration: number;
  /** Real transitions consumed so far: the x-axis of every comparison. */
  realTransitions: number;
  /** Normalised real return of the current policy (tabular: the benchmark's soft|hard objective, DESIGN §5;
   * linear-Gaussian: J_real(K) / J_real(K*_real)). */
  normalized: number;
  /** The simulator parameters behind the policy (empty for methods that have none). */
  theta: Float64Array;
}

export type EvalCallback = (p: EvalPoint) => void;

export interface MethodRun {
  points: EvalPoint[];
  /** Final simulator parameters. */
  theta: Float64Array;
}

/** Extra ascent direction added to the outer gradient at θ (e.g. λ·∇_θ log-likelihood of recorded real
 * transitions, the bi-level paper's (5)); it must not consume real transitions. */
export type ExtraGradient = (theta: Float64Array) => Float64Array;
