/**
 * The faithful in-sim solver of the continuous example (DESIGN §4.7): maximise the simulator's exact
 * expected return J_θ(K) (exponential reward, Gaussian noise: closed form, critics/linear-gaussian.ts)
 * over the policy gain K. Global search over candidate gains (value only), then damped Newton with
 * exact gradient and Hessian from the best few. An unstable closed loop still has a finite return, so
 * candidates on both sides of stability are fine.
 */
import { expectedReturn, expectedReturnValue } from "../critics/linear-gaussian.ts";
import type { LinearGaussianParams, LinearGaussianSystem } from "../envs/linear-gaussian.ts";
import { norm } from "../math/linalg.ts";
import { discountedLqr } from "./lqr.ts";

export interface ExactSolution {
  K: Float64Array;
  J: number;
  /** ‖∇_K J‖ at K: the optimality residual. */
  gradNorm: number;
  /** Newton iterations of the best start. */
  iterations: number;
}

export interface ExactSolveOptions {
  /** Warm start (e.g. the previous outer iteration's K); always among the candidates. */
  initK?: ArrayLike<number>;
  /** `global`: candidate search + Newton from the best three; `local`: Newton from initK only. */
  search?: "global" | "local";
  /** Stop when ‖∇_K J‖ ≤ tol·max(1, |J|). */
  tol?: number;
  maxIterations?: number;
}

/** Candidate gains: 0, the LQR gain of the quadratic surrogate scaled by ¼…2, and for a scalar gain a
 * grid of closed-loop poles in [−1.2, 1.2] per input. */
function candidates(sys: LinearGaussianSystem, p: LinearGaussianParams): Float64Array[] {
  const { n, m } = sys;
  const out: Float64Array[] = [new Float64Array(m * n)];
  try {
    const lqr = discountedLqr(n, m, sys.gamma, p, { tol: 1e-10, maxIterations: 2000 }).K;
    for (const s of [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2]) out.push(Float64Array.from(lqr, (v) => s * v));
  } catch {
    // No stabilising LQR gain: the grid and K = 0 remain.
  }
  if (n === 1 && m === 1 && p.B[0] !== 0)
    for (let i = 0; i <= 24; i++) {
      const pole = -1.2 + (2.4 * i) / 24;
      out.push(Float64Array.of((p.A[0] - pole) / p.B[0]));
    }
  return out;
}

/** Newton starts: the warm start and the best candidate when warm-started (Newton from a nearby
 * optimum takes two or three steps), else the best three candidates by value. */
function bestCandidates(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  initK?: ArrayLike<number>,
): Float64Array[] {
  const ranked = candidates(sys, p)
    .map((K) => ({ K, J: expectedReturnValue(sys, p, K) }))
    .sort((a, b) => b.J - a.J)
    .map((c) => c.K);
  if (!initK) return ranked.slice(0, 3);
  const warm = Float64Array.from(initK);
  const far = ranked.find((K) => K.some((v, i) => Math.abs(v - warm[i]) > 1e-6 * (1 + Math.abs(v))));
  return far ? [warm, far] : [warm];
}

export function maximizeExpectedReturn(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  opts: ExactSolveOptions = {},
): ExactSolution {
  const search = opts.search ?? "global";
  const starts =
    search === "local" && opts.initK ? [Float64Array.from(opts.initK)] : bestCandidates(sys, p, opts.initK);
  let best: ExactSolution | null = null;
  for (const K0 of starts) {
    const sol = newton(sys, p, K0, opts.tol ?? 1e-12, opts.maxIterations ?? 100);
    if (!best || sol.J > best.J) best = sol;
  }
  return best as ExactSolution;
}

/** Damped Newton ascent on J(K): Newton direction where ∇²J is negative definite, gradient otherwise,
 * with Armijo backtracking far from the optimum. Near it (Newton step < 1e−6 relative) full steps are
 * taken without a line search, because changes in J then fall below rounding; quadratic convergence
 * ends the loop once a step is below 1e−13 relative. */
function newton(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  K0: Float64Array,
  tol: number,
  maxIt: number,
): ExactSolution {
  const d = K0.length;
  let K = Float64Array.from(K0);
  let it = 0;
  let r = expectedReturn(sys, p, K, { derivatives: "hessK" });
  for (; it < maxIt; it++) {
    const g = r.gradK;
    const gn = norm(g);
    if (gn <= tol * Math.max(1, Math.abs(r.J))) break;
    const newtonDir = newtonDirection(r.hessKK, g, d);
    const scaleK = 1 + norm(K);
    if (newtonDir && norm(newtonDir) <= 1e-6 * scaleK) {
      for (let i = 0; i < d; i++) K[i] += newtonDir[i];
      r = expectedReturn(sys, p, K, { derivatives: "hessK" });
      if (norm(newtonDir) <= 1e-13 * scaleK) {
        it++;
        break;
      }
      continue;
    }
    let dir = newtonDir ?? Float64Array.from(g);
    let slope = 0;
    for (let i = 0; i < d; i++) slope += g[i] * dir[i];
    if (!(slope > 0)) {
      dir = Float64Array.from(g);
      slope = gn * gn;
    }
    let alpha = 1;
    let accepted = false;
    for (let ls = 0; ls < 60; ls++) {
      const Kt = Float64Array.from(K, (v, i) => v + alpha * dir[i]);
      const Jt = expectedReturnValue(sys, p, Kt);
      if (Jt >= r.J + 1e-4 * alpha * slope) {
        K = Kt;
        accepted = true;
        break;
      }
      alpha *= 0.5;
    }
    if (!accepted) break; // no further progress possible at this precision
    r = expectedReturn(sys, p, K, { derivatives: "hessK" });
  }
  return { K, J: r.J, gradNorm: norm(r.gradK), iterations: it };
}

/** The Newton ascent step −H⁻¹ g when H is negative definite, else null: one Cholesky factorisation
 * −H = L Lᵀ serves as the definiteness test and as the solve (d is small). */
export function newtonDirection(H: ArrayLike<number>, g: ArrayLike<number>, d: number): Float64Array | null {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let v = -H[i * d + j];
      for (let k = 0; k < j; k++) v -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(v > 0)) return null;
        L[i * d + i] = Math.sqrt(v);
      } else L[i * d + j] = v / L[j * d + j];
    }
  const x = Float64Array.from(g);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < i; k++) x[i] -= L[i * d + k] * x[k];
    x[i] /= L[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    for (let k = i + 1; k < d; k++) x[i] -= L[k * d + i] * x[k];
    x[i] /= L[i * d + i];
  }
  return x;
}
