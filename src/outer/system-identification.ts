/**
 * System identification as an outer-level method (issue 5; DESIGN §4.8): fit the simulator to the real
 * transitions seen so far by maximum likelihood (with a weak prior), solve the in-sim problem on the fit,
 * roll that policy out on the real system for more data, repeat. When the model class contains the real
 * system and the reward is known this is the sample-efficient baseline (§4.8); with a surrogate inner solver
 * (LQR on the exponential-reward example) a perfect fit still leaves the objective-mismatch gap (§4.7).
 *
 * Both families report `EvalPoint`s against the real transitions consumed (src/outer/trace.ts); iteration 0
 * is the prior's policy, before any data.
 */

import { z } from "zod";
import { expectedReturn } from "../critics/linear-gaussian.ts";
import {
  type LinearGaussianProblem,
  logProb as lgLogProb,
  logProbGradTheta,
  noiseModel,
  problemParams,
  thetaBlocks,
  thetaFromParams,
} from "../envs/linear-gaussian.ts";
import { type LinearBatch, LinearGaussianRealSystem } from "../envs/linear-gaussian-rollout.ts";
import { problemSimulator, type TabularProblem, thetaFromMDP } from "../envs/tabular.ts";
import { poolCounts } from "../envs/tabular-family.ts";
import { TabularRealSystem } from "../envs/tabular-rollout.ts";
import { maximizeExpectedReturn } from "../inner/linear-gaussian-exact.ts";
import { discountedLqr, InnerSolveError } from "../inner/lqr.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { solve } from "../math/dense.ts";
import type { Rng } from "../math/rng.ts";
import { logSumExp } from "../math/softmax.ts";
import { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";
import { uniformPolicy } from "../policies/tabular-softmax.ts";
import { projectLower } from "./ascent.ts";
import { LINEAR_INNER_SOLVERS, type LinearInnerSolver, realOptimum } from "./bilevel-linear-gaussian.ts";
import { normalizer } from "./normalized-return.ts";
import type { EvalCallback, EvalPoint, MethodRun } from "./trace.ts";

export const SysIdConfigSchema = z.object({
  budget: z
    .number()
    .int()
    .nonnegative()
    .default(2000)
    .describe("Real transitions to consume in total; the last batch is shortened to land on it exactly"),
  batchTrajectories: z
    .number()
    .int()
    .positive()
    .default(2)
    .describe(
      "Real trajectories per iteration (small, so the curve against real transitions is fine-grained)",
    ),
  batchHorizon: z
    .number()
    .int()
    .positive()
    .default(10)
    .describe(
      "Steps per real trajectory. Linear-Gaussian: a trajectory of H steps yields H − 1 (s, a, s′) pairs " +
        "(the rollout does not record the final successor) but H rewards",
    ),
  explore: z
    .enum(["policy", "uniform"])
    .default("policy")
    .describe(
      "Data-collection policy: the current in-sim policy of the fit, or a data-independent one " +
        "(tabular: uniform actions; linear-Gaussian: gain K = 0, actions = the policy noise alone)",
    ),
  dirichletPrior: z
    .number()
    .positive()
    .default(0.5)
    .describe(
      "Tabular: symmetric Dirichlet(α) prior on each transition row; the fit is the posterior mean " +
        "(N + α)/(ΣN + Sα). α = ½ is Jeffreys' (Krichevsky–Trofimov) prior: uniform rows before any data, " +
        "negligible after a few visits",
    ),
  ridge: z
    .number()
    .positive()
    .default(0.1)
    .describe(
      "Linear-Gaussian: ridge weight ρ pulling [A B] (and fitted diag Q, R) towards the problem's simulator: " +
        "ρ I is added to the regressors' Gram matrix Σ x xᵀ, i.e. the prior counts as ρ/E‖x‖² transitions " +
        "(≈ 0.1 at paper-continuous, where E‖x‖² ≈ 1), so the fit is defined with little data and data-driven soon after",
    ),
  reward: z
    .enum(["known", "fitted"])
    .default("known")
    .describe(
      "known: the benchmark's reward function is known (the real reward table / real diag Q, R); fitted: " +
        "tabular: mean observed reward per (s, a), the simulator's θ^R where unvisited; linear-Gaussian: " +
        "least squares of −log r/λ on s_i², a_j² (ridge towards the simulator's diag Q, R)",
    ),
  objective: z
    .enum(["soft", "hard"])
    .default("soft")
    .describe("Tabular real objective reported: soft (entropy-regularised with τ) or hard (plain return)"),
  inner: z
    .enum(LINEAR_INNER_SOLVERS)
    .default("lqr")
    .describe(
      "Linear-Gaussian in-sim solver on the fit: exact (maximise the fitted exponential-reward return) or " +
        "lqr (Riccati on the quadratic surrogate; the same default as the bi-level method)",
    ),
});
export type SysIdConfig = z.infer<typeof SysIdConfigSchema>;

/** Per-iteration batch shape that never overshoots the budget: whole trajectories while they fit, then
 * one shorter trajectory for the remainder. */
function batchShape(config: SysIdConfig, used: number): { n: number; h: number } {
  const left = config.budget - used;
  const n = Math.min(config.batchTrajectories, Math.floor(left / config.batchHorizon));
  return n > 0 ? { n, h: config.batchHorizon } : { n: 1, h: left };
}

// ───────────────────────────── tabular ─────────────────────────────

/** Sufficient statistics of recorded real tabular transitions. */
export interface TabularData {
  /** N(s, a, s′), layout (s·A + a)·S + s′. */
  counts: Float64Array;
  /** Σ r per (s, a). */
  rewardSums: Float64Array;
}

export interface SysIdTabularRun extends MethodRun {
  data: TabularData;
}

/** θ^f_{s,a,·} = log((N + α)/(ΣN + Sα)): the posterior-mean transition table under a Dirichlet(α) prior. */
export function fitTransitionLogits(
  counts: ArrayLike<number>,
  S: number,
  A: number,
  alpha: number,
): Float64Array {
  const out = new Float64Array(S * A * S);
  for (let sa = 0; sa < S * A; sa++) {
    let total = 0;
    for (let x = 0; x < S; x++) total += counts[sa * S + x];
    const z = Math.log(total + S * alpha);
    for (let x = 0; x < S; x++) out[sa * S + x] = Math.log(counts[sa * S + x] + alpha) - z;
  }
  return out;
}

/** The fitted simulator θ (DESIGN §5 layout) from the data so far. */
export function fitTabularTheta(
  problem: TabularProblem,
  data: TabularData,
  config: SysIdConfig,
): Float64Array {
  const { S, A } = problem;
  const nf = S * A * S;
  const theta = new Float64Array(nf + S * A);
  // Maximum likelihood within a tied family pools the counts of tied rows.
  theta.set(fitTransitionLogits(poolCounts(data.counts, problem), S, A, config.dirichletPrior));
  if (config.reward === "known") theta.set(problem.real.R, nf);
  else
    for (let sa = 0; sa < S * A; sa++) {
      let visits = 0;
      for (let x = 0; x < S; x++) visits += data.counts[sa * S + x];
      theta[nf + sa] = visits > 0 ? data.rewardSums[sa] / visits : problem.theta0[nf + sa];
    }
  return theta;
}

/** log L(θ) = Σ N(s,a,s′) log softmax(θ^f_{s,a})_{s′} of recorded transitions. */
export function logLikelihoodTabular(
  counts: ArrayLike<number>,
  theta: ArrayLike<number>,
  S: number,
  A: number,
) {
  let ll = 0;
  for (let sa = 0; sa < S * A; sa++) {
    const lse = logSumExp(theta, sa * S, S);
    for (let x = 0; x < S; x++) {
      const c = counts[sa * S + x];
      if (c > 0) ll += c * (theta[sa * S + x] - lse);
    }
  }
  return ll;
}

/** ∇_θ log L: N(s,a,s′) − N(s,a)·softmax(θ^f_{s,a})_{s′} on θ^f, zero on θ^R (length of θ). */
export function logLikelihoodGradTabular(
  counts: ArrayLike<number>,
  theta: ArrayLike<number>,
  S: number,
  A: number,
): Float64Array {
  const g = new Float64Array(theta.length);
  for (let sa = 0; sa < S * A; sa++) {
    const lse = logSumExp(theta, sa * S, S);
    let nsa = 0;
    for (let x = 0; x < S; x++) nsa += counts[sa * S + x];
    for (let x = 0; x < S; x++) g[sa * S + x] = counts[sa * S + x] - nsa * Math.exp(theta[sa * S + x] - lse);
  }
  return g;
}

/**
 * Iterated system identification on a tabular problem: fit (Dirichlet posterior mean, reward known or
 * averaged), solve the fit exactly (soft policy iteration, τ = problem.temperature), score the policy on
 * the real system (normaliser of DESIGN §5), collect `batchTrajectories × batchHorizon` more real
 * transitions; stop at `budget`.
 */
export function runSysIdTabular(
  problem: TabularProblem,
  config: SysIdConfig,
  rng: Rng,
  onEval?: EvalCallback,
): SysIdTabularRun {
  const { S, A, temperature: tau } = problem;
  const realRng = rng.split();
  const realSystem = new TabularRealSystem(problem.real);
  const scorer = normalizer(problem);
  const explorer = config.explore === "uniform" ? uniformPolicy(S, A).pi : null;
  const data: TabularData = { counts: new Float64Array(S * A * S), rewardSums: new Float64Array(S * A) };
  const points: EvalPoint[] = [];
  let phi: Float64Array | undefined;
  let theta: Float64Array;
  for (let it = 0; ; it++) {
    theta = fitTabularTheta(problem, data, config);
    const sol = softPolicyIteration(problemSimulator(problem, theta), tau, { initPhi: phi });
    phi = sol.phi;
    const sc = scorer.scores(sol.pi, sol.logPi);
    const point: EvalPoint = {
      iteration: it,
      realTransitions: realSystem.transitionsUsed,
      normalized: config.objective === "soft" ? sc.soft : sc.hard,
      theta: Float64Array.from(theta),
    };
    points.push(point);
    onEval?.(point);
    if (realSystem.transitionsUsed >= config.budget) break;
    const { n, h } = batchShape(config, realSystem.transitionsUsed);
    const batch = realSystem.rollout(explorer ?? sol.pi, n, h, realRng);
    for (let k = 0; k < batch.length; k++) {
      const sa = batch.s[k] * A + batch.a[k];
      data.counts[sa * S + batch.s2[k]]++;
      data.rewardSums[sa] += batch.r[k];
    }
  }
  return { points, theta, data };
}

/** The real simulator θ with centred transition logits: what the tabular fit converges to. */
export function centredRealLogits(problem: TabularProblem): Float64Array {
  const { S, A } = problem;
  const th = thetaFromMDP(problem.real).subarray(0, S * A * S);
  return centreLogitRows(th, S);
}

/** θ^f rows centred (logits are defined up to a per-(s,a) constant, DESIGN §4.3). */
export function centreLogitRows(logits: ArrayLike<number>, S: number): Float64Array {
  const out = Float64Array.from(logits);
  for (let off = 0; off < out.length; off += S) {
    let mean = 0;
    for (let x = 0; x < S; x++) mean += out[off + x] / S;
    for (let x = 0; x < S; x++) out[off + x] -= mean;
  }
  return out;
}

// ───────────────────────────── linear-Gaussian ─────────────────────────────

export interface SysIdLinearRun extends MethodRun {
  /** The real batches collected (for likelihood terms downstream, e.g. the hybrid). */
  batches: LinearBatch[];
  /** Residual covariance of the final fit, n×n: Σ (s′ − Â s − B̂ a)(…)ᵀ / max(1, pairs − (n + m)). The
   * simulator family keeps the problem's Σ; this is reported to check it. */
  noiseEstimate: Float64Array;
  /** (s, a, s′) pairs used by the final fit. */
  pairs: number;
  /** Final policy gain. */
  K: Float64Array;
}

/** Running sums for the two ridge regressions. */
interface LinearStats {
  /** Σ x xᵀ, x = [s; a], (n+m)². */
  G: Float64Array;
  /** Σ x s′ᵀ, (n+m)×n. */
  C: Float64Array;
  /** Σ s′ s′ᵀ, n×n. */
  Y: Float64Array;
  pairs: number;
  /** Reward regression: Σ f fᵀ and Σ f z with f = [s_i², a_j²], z = −log r/λ − (off-diagonal part). */
  Gr: Float64Array;
  cr: Float64Array;
}

function newStats(n: number, m: number): LinearStats {
  const d = n + m;
  return {
    G: new Float64Array(d * d),
    C: new Float64Array(d * n),
    Y: new Float64Array(n * n),
    pairs: 0,
    Gr: new Float64Array(d * d),
    cr: new Float64Array(d),
  };
}

function addBatch(problem: LinearGaussianProblem, st: LinearStats, b: LinearBatch): void {
  const { n, m, lambda } = problem;
  const d = n + m;
  const x = new Float64Array(d);
  const f = new Float64Array(d);
  const { Q: Q0, R: R0 } = problem.simulator;
  for (let i = 0; i < b.N; i++)
    for (let t = 0; t < b.H; t++) {
      const idx = i * b.H + t;
      for (let k = 0; k < n; k++) x[k] = b.states[idx * n + k];
      for (let k = 0; k < m; k++) x[n + k] = b.actions[idx * m + k];
      // Reward: −log r/λ = sᵀQs + aᵀRa is linear in diag Q, R once the fixed off-diagonals are removed.
      const r = b.rewards[idx];
      if (r > 0) {
        let z = -Math.log(r) / lambda;
        for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) if (p !== q) z -= Q0[p * n + q] * x[p] * x[q];
        for (let p = 0; p < m; p++)
          for (let q = 0; q < m; q++) if (p !== q) z -= R0[p * m + q] * x[n + p] * x[n + q];
        for (let k = 0; k < d; k++) f[k] = x[k] * x[k];
        for (let p = 0; p < d; p++) {
          st.cr[p] += f[p] * z;
          for (let q = 0; q < d; q++) st.Gr[p * d + q] += f[p] * f[q];
        }
      } // r = 0 (underflow far from the origin) carries no usable log: skipped.
      if (t + 1 >= b.H) continue; // the final successor is not recorded
      const next = b.states.subarray((idx + 1) * n, (idx + 2) * n);
      for (let p = 0; p < d; p++) {
        for (let q = 0; q < d; q++) st.G[p * d + q] += x[p] * x[q];
        for (let q = 0; q < n; q++) st.C[p * n + q] += x[p] * next[q];
      }
      for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) st.Y[p * n + q] += next[p] * next[q];
      st.pairs++;
    }
}

/** argmin_w ‖y − F w‖² + ρ‖w − w0‖²  ⇒  (FᵀF + ρI) w = Fᵀy + ρ w0, for c right-hand sides at once. */
function ridgeSolve(G: Float64Array, C: Float64Array, W0t: Float64Array, rho: number, d: number, c: number) {
  const Gr = Float64Array.from(G);
  for (let i = 0; i < d; i++) Gr[i * d + i] += rho;
  const rhs = Float64Array.from(C, (v, i) => v + rho * W0t[i]);
  return solve(Gr, rhs, d, c);
}

/** Fitted θ (layout of envs/linear-gaussian.ts) and the residual covariance. */
function fitLinear(
  problem: LinearGaussianProblem,
  st: LinearStats,
  config: SysIdConfig,
): { theta: Float64Array; noise: Float64Array } {
  const { n, m } = problem;
  const d = n + m;
  const blk = thetaBlocks(n, m);
  const prior = thetaFromParams(n, m, problem.simulator);
  // Wᵀ = [A B]ᵀ, (n+m)×n; row p of Wᵀ is the coefficient of x_p in every output.
  const W0t = new Float64Array(d * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) W0t[j * n + i] = problem.simulator.A[i * n + j];
    for (let j = 0; j < m; j++) W0t[(n + j) * n + i] = problem.simulator.B[i * m + j];
  }
  const Wt = ridgeSolve(st.G, st.C, W0t, config.ridge, d, n);
  const theta = Float64Array.from(prior);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) theta[blk.A[0] + i * n + j] = Wt[j * n + i];
    for (let j = 0; j < m; j++) theta[blk.B[0] + i * m + j] = Wt[(n + j) * n + i];
  }
  if (config.reward === "known") {
    const real = thetaFromParams(n, m, problem.real);
    theta.set(real.subarray(blk.Q[0], blk.R[1]), blk.Q[0]);
  } else {
    const w0 = prior.subarray(blk.Q[0], blk.R[1]);
    theta.set(ridgeSolve(st.Gr, st.cr, w0, config.ridge, d, 1), blk.Q[0]);
  }
  projectLower(theta, problem.lower);
  // Σ (y − Wx)(y − Wx)ᵀ = Y − WC − CᵀWᵀ + W G Wᵀ   (W = (Wt)ᵀ, n×d).
  const noise = new Float64Array(n * n);
  const dof = Math.max(1, st.pairs - d);
  for (let p = 0; p < n; p++)
    for (let q = 0; q < n; q++) {
      let v = st.Y[p * n + q];
      for (let k = 0; k < d; k++) v -= Wt[k * n + p] * st.C[k * n + q] + st.C[k * n + p] * Wt[k * n + q];
      for (let k = 0; k < d; k++)
        for (let l = 0; l < d; l++) v += Wt[k * n + p] * st.G[k * d + l] * Wt[l * n + q];
      noise[p * n + q] = v / dof;
    }
  return { theta, noise };
}

/** The in-sim policy gain of the fit (no sensitivity needed here). */
function innerGain(
  problem: LinearGaussianProblem,
  theta: Float64Array,
  inner: LinearInnerSolver,
  initK?: Float64Array,
): Float64Array {
  const p = problemParams(problem, theta);
  if (inner === "exact") return maximizeExpectedReturn(problem, p, { initK }).K;
  return discountedLqr(problem.n, problem.m, problem.gamma, p).K;
}

/** log L(θ) = Σ log N(s′; A s + B a, Σ) over the recorded (s, a, s′) pairs of the batches. */
export function logLikelihoodLinear(
  problem: LinearGaussianProblem,
  batches: readonly LinearBatch[],
  theta: ArrayLike<number>,
): number {
  const noise = noiseModel(problem);
  const p = problemParams(problem, theta);
  let ll = 0;
  forEachPair(problem, batches, (s, a, next) => {
    ll += lgLogProb(problem, noise, p, s, a, next);
  });
  return ll;
}

/** ∇_θ log L(θ) = Σ ∇_θ log f_θ(s′|s, a) (nonzero on A and B only). */
export function logLikelihoodGradLinear(
  problem: LinearGaussianProblem,
  batches: readonly LinearBatch[],
  theta: ArrayLike<number>,
): Float64Array {
  const noise = noiseModel(problem);
  const p = problemParams(problem, theta);
  const g = new Float64Array(theta.length);
  forEachPair(problem, batches, (s, a, next) => {
    const gi = logProbGradTheta(problem, noise, p, s, a, next);
    for (let i = 0; i < g.length; i++) g[i] += gi[i];
  });
  return g;
}

/** Number of (s, a, s′) pairs recorded in the batches (H − 1 per trajectory). */
export function linearPairCount(batches: readonly LinearBatch[]): number {
  let k = 0;
  for (const b of batches) k += b.N * Math.max(0, b.H - 1);
  return k;
}

function forEachPair(
  problem: LinearGaussianProblem,
  batches: readonly LinearBatch[],
  fn: (s: Float64Array, a: Float64Array, next: Float64Array) => void,
): void {
  const { n, m } = problem;
  for (const b of batches)
    for (let i = 0; i < b.N; i++)
      for (let t = 0; t + 1 < b.H; t++) {
        const idx = i * b.H + t;
        fn(
          b.states.subarray(idx * n, (idx + 1) * n),
          b.actions.subarray(idx * m, (idx + 1) * m),
          b.states.subarray((idx + 1) * n, (idx + 2) * n),
        );
      }
}

/**
 * Iterated system identification on a linear-Gaussian problem: ridge least squares of s′ on [s, a]
 * (towards the simulator's A, B), reward known or fitted, lower bounds applied; the in-sim gain of the fit
 * (exact or LQR) scored as J_real(K)/J_real(K*_real); then more real data with that policy.
 */
export function runSysIdLinear(
  problem: LinearGaussianProblem,
  config: SysIdConfig,
  rng: Rng,
  onEval?: EvalCallback,
  optimum = realOptimum(problem),
): SysIdLinearRun {
  const { n, m } = problem;
  const realRng = rng.split();
  const realSystem = new LinearGaussianRealSystem(problem, problem.real);
  const st = newStats(n, m);
  const batches: LinearBatch[] = [];
  const points: EvalPoint[] = [];
  let fit: ReturnType<typeof fitLinear>;
  let K: Float64Array | undefined;
  for (let it = 0; ; it++) {
    fit = fitLinear(problem, st, config);
    try {
      K = innerGain(problem, fit.theta, config.inner, K);
    } catch (e) {
      // A fit with no stabilising LQR gain (rare, early): keep acting with the previous gain.
      if (!(e instanceof InnerSolveError) || !K) throw e;
    }
    const point: EvalPoint = {
      iteration: it,
      realTransitions: realSystem.transitionsUsed,
      normalized: expectedReturn(problem, problem.real, K).J / optimum.J,
      theta: Float64Array.from(fit.theta),
    };
    points.push(point);
    onEval?.(point);
    if (realSystem.transitionsUsed >= config.budget) break;
    const { n: N, h } = batchShape(config, realSystem.transitionsUsed);
    const gain = config.explore === "uniform" ? new Float64Array(m * n) : K;
    const policy = new LinearGaussianPolicy(gain, problem.policyCov, n, m);
    const batch = realSystem.rollout(policy, N, h, realRng);
    batches.push(batch);
    addBatch(problem, st, batch);
  }
  return {
    points,
    theta: fit.theta,
    batches,
    noiseEstimate: fit.noise,
    pairs: st.pairs,
    K: K ?? new Float64Array(m * n),
  };
}
