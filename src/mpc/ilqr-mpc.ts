/**
 * iLQR / DDP model-predictive control for nonlinear models (issue 9, item 1): at state s, solve the
 * N-step problem of ocp.ts by control-limited DDP and apply u₀*.
 *
 * Solver (one iteration):
 *  1. Costate sweep at the current (X, U): λ_N = ∇T, λ_k = ∇_xℓ_k + f_xᵀλ_{k+1}, ∇_{u_k}J = ∇_uℓ_k + f_uᵀλ_{k+1},
 *     and the exact stage Hessians H_k = ∇²(ℓ_k + λ_{k+1}ᵀf), with the model's second derivatives
 *     contracted with the costate (Pantoja's stagewise Newton: the backward pass on them gives the exact
 *     Newton step of the condensed problem). Stop when the projected gradient ‖P(∇_U J)‖∞ ≤ gradTol and
 *     the exact backward pass succeeds unregularised (the free reduced Hessian is positive definite): a
 *     strict local minimum. A stationary point that is not one (the pendulum hanging at rest under u ≡ 0,
 *     where the gradient vanishes by symmetry) is left by a small move along the failed stage's direction
 *     of non-positive curvature (at most 5 times per solve; status "saddle" if that does not help).
 *     Step ("ddp"): the exact Newton step when every (Q_uu)_FF of the exact pass is positive definite and
 *     its line search succeeds; otherwise a Gauss–Newton step: dynamics curvature dropped and each cost
 *     feature's curvature replaced by its Gauss–Newton part (2(1 − cos ϑ) = |e^{iϑ} − 1|² → 2 instead of
 *     2 cos ϑ), positive semidefinite, so non-convex stretches (the pendulum over the top) are crossed with
 *     full steps instead of tiny Levenberg–Marquardt-damped ones. "ilqr": Gauss–Newton steps only.
 *  2. Backward pass (Tassa, Mansard & Todorov 2014, "Control-limited differential dynamic programming"):
 *       Q_x = ℓ_x + f_xᵀV_x′, Q_u = ℓ_u + f_uᵀV_x′, Q_xx = H_xx + f_xᵀV_xx′f_x, Q_ux = H_ux + f_uᵀV_xx′f_x,
 *       Q_uu = H_uu + f_uᵀV_xx′f_u;
 *       k = argmin ½δuᵀ(Q_uu + μI)δu + Q_uᵀδu  s.t.  lo − u_k ≤ δu ≤ hi − u_k   (box-qp.ts),
 *       K_F = −(Q_uu + μI)_FF⁻¹ Q_ux,F on the free rows, 0 on the clamped ones;
 *       V_x = Q_x + KᵀQ_uu k + KᵀQ_u + Q_uxᵀk,  V_xx = Q_xx + KᵀQ_uu K + KᵀQ_ux + Q_uxᵀK.
 *     μ (Levenberg–Marquardt, Gauss–Newton steps only) grows ×10 when a (Q_uu + μI)_FF is not positive
 *     definite or the line search fails, and shrinks ÷10 after each accepted step (to 0 below muMin).
 *  3. Forward pass with line search α ∈ {1, ½, …}: û_k = clamp(u_k + αk_k + K_k(x̂_k − x_k)),
 *     x̂_{k+1} = f(x̂_k, û_k); accept when the cost decrease is ≥ 10⁻⁴ of the predicted
 *     −(αΣkᵀQ_u + ½α²ΣkᵀQ_uu k), or the prediction is at rounding level and the cost did not rise.
 *
 * The MPC controller warm-starts each solve from the previous solution shifted by one step (last control
 * repeated), and gives du₀*∕dθ by sensitivity.ts at the converged solution.
 */

import { z } from "zod";
import { boxQp, choleskyBlock, choleskySolve } from "./box-qp.ts";
import { OcpController } from "./controller.ts";
import { CartpoleOcpConfigSchema, cartpoleOcp, PendulumOcpConfigSchema, pendulumOcp } from "./models.ts";
import {
  activeSet,
  costateStep,
  type Ocp,
  projectedGradientNorm,
  rollout,
  type StageDerivatives,
  stageDerivativesBuffer,
  terminalDerivativesBuffer,
} from "./ocp.ts";

export const IlqrSolverConfigSchema = z.object({
  hessian: z
    .enum(["ddp", "ilqr"])
    .default("ddp")
    .describe(
      "'ddp': exact Newton steps (the model's second derivatives) where the exact Hessian is positive definite, Gauss–Newton steps elsewhere (quadratic local convergence); 'ilqr': Gauss–Newton steps only (linear local convergence)",
    ),
  gradTol: z
    .number()
    .positive()
    .default(1e-10)
    .describe(
      "Stop when ‖projected ∇_U J‖∞ ≤ gradTol (absolute; the sensitivity needs a converged solution)",
    ),
  maxIterations: z.number().int().positive().default(100).describe("Iterations per solve"),
  muMin: z.number().positive().default(1e-8).describe("Smallest nonzero Levenberg–Marquardt μ on Q_uu"),
  muMax: z.number().positive().default(1e10).describe("Give up when μ exceeds this"),
  warmStart: z
    .boolean()
    .default(true)
    .describe("Start each solve from the previous solution shifted by one step (else from u = 0)"),
});
export type IlqrSolverConfig = z.infer<typeof IlqrSolverConfigSchema>;

export interface IlqrSolution {
  /** Controls (N·m) and states ((N+1)·n) of the returned iterate. */
  U: Float64Array;
  X: Float64Array;
  cost: number;
  iterations: number;
  /** Projected-gradient norm ≤ gradTol at a strict local minimum. */
  converged: boolean;
  /** "converged", "max-iterations", "stalled" (no acceptable step at μ ≤ muMax), "saddle" (stationary but
   * the reduced Hessian is not positive definite). */
  status: "converged" | "max-iterations" | "stalled" | "saddle";
  /** ‖P(∇_U J)‖∞ at U (the KKT residual). */
  gradNorm: number;
  /** −1/+1 where u sits on its lower/upper bound, 0 free. */
  active: Int8Array;
  /** ∇_U J at U (its components on active bounds are the bound multipliers, signed). */
  grad: Float64Array;
}

const EXPECTED_FLOOR = 1e-13;
/** Largest step of the expanding line search (Gauss–Newton steps). */
const MAX_EXPANSION = 1024;

/** Saddle escapes per solve (see the solver loop). */
const MAX_ESCAPES = 5;

/** Per-iteration diagnostics of `solveIlqr`. */
export interface IlqrIterationInfo {
  iteration: number;
  cost: number;
  gradNorm: number;
  mu: number;
  /** Accepted step size (0: none). */
  alpha: number;
}

/** Solve the N-step problem of `ocp` at (θ, s) from the initial controls `U0` (clamped into the box). */
export function solveIlqr(
  ocp: Ocp,
  theta: Float64Array,
  s: ArrayLike<number>,
  U0: ArrayLike<number>,
  config: z.input<typeof IlqrSolverConfigSchema> = {},
  /** Called after each iteration (diagnostics). */
  onIteration?: (info: IlqrIterationInfo) => void,
): IlqrSolution {
  return solveParsed(ocp, theta, s, U0, IlqrSolverConfigSchema.parse(config), onIteration);
}

function solveParsed(
  ocp: Ocp,
  theta: Float64Array,
  s: ArrayLike<number>,
  U0: ArrayLike<number>,
  cfg: IlqrSolverConfig,
  onIteration?: (info: IlqrIterationInfo) => void,
): IlqrSolution {
  const { n, m, horizon: N, uLow, uHigh } = ocp;
  const tryExact = cfg.hessian === "ddp";
  let U = new Float64Array(N * m);
  for (let i = 0; i < U.length; i++) {
    const j = i % m;
    const v = U0[i];
    U[i] = v > uHigh[j] ? uHigh[j] : v < uLow[j] ? uLow[j] : v;
  }
  const X = new Float64Array((N + 1) * n);
  let J = rollout(ocp, theta, s, U, X);
  if (!Number.isFinite(J)) throw new RangeError("MPC: the initial rollout's cost is not finite");

  // Exact (λ-contracted) and Gauss–Newton stage derivatives at the current iterate.
  const D: StageDerivatives[] = Array.from({ length: N }, () => stageDerivativesBuffer(n, m, 0));
  const G: StageDerivatives[] = Array.from({ length: N }, () => stageDerivativesBuffer(n, m, 0));
  const term = terminalDerivativesBuffer(n, 0);
  const termG = terminalDerivativesBuffer(n, 0);
  let gnReady = false;
  const grad = new Float64Array(N * m);
  const lam = new Float64Array(n);
  const lamNext = new Float64Array(n);
  // Gains of the backward pass.
  const Kg = new Float64Array(N * m * n);
  const kf = new Float64Array(N * m);
  // Scratch.
  const Vx = new Float64Array(n);
  const Vxx = new Float64Array(n * n);
  const Qx = new Float64Array(n);
  const Qu = new Float64Array(m);
  const Qxx = new Float64Array(n * n);
  const Qux = new Float64Array(m * n);
  const Quu = new Float64Array(m * m);
  const Vfx = new Float64Array(n * n);
  const Vfu = new Float64Array(n * m);
  const lo = new Float64Array(m);
  const hi = new Float64Array(m);
  const idx = new Int32Array(m);
  const L = new Float64Array(m * m);
  const col = new Float64Array(m);
  const Xn = new Float64Array((N + 1) * n);
  const Un = new Float64Array(N * m);
  const Xb = new Float64Array((N + 1) * n);
  const Ub = new Float64Array(N * m);
  const dx = new Float64Array(n);
  let dV1 = 0;
  let dV2 = 0;
  // Where the last failed backward pass stopped: stage and control of the non-positive curvature.
  let failStage = -1;
  let failControl = 0;

  /** Costate sweep: exact derivatives D_k (with λ_{k+1}), ∇_U J into grad. */
  const derivatives = () => {
    gnReady = false;
    ocp.terminalDerivatives(theta, X.subarray(N * n), false, term);
    lam.set(term.lx);
    for (let k = N - 1; k >= 0; k--) {
      const d = D[k];
      lamNext.set(lam);
      ocp.stageDerivatives(
        theta,
        k,
        X.subarray(k * n, (k + 1) * n),
        U.subarray(k * m, (k + 1) * m),
        lamNext,
        false,
        d,
      );
      costateStep(d, lamNext, n, m, k, grad, lam);
    }
  };

  /** The Gauss–Newton derivatives at the current iterate. */
  const gaussNewton = () => {
    if (gnReady) return;
    ocp.terminalDerivatives(theta, X.subarray(N * n), false, termG, true);
    for (let k = 0; k < N; k++)
      ocp.stageDerivatives(
        theta,
        k,
        X.subarray(k * n, (k + 1) * n),
        U.subarray(k * m, (k + 1) * m),
        null,
        false,
        G[k],
      );
    gnReady = true;
  };

  /** Backward pass on derivatives (D, term) with regularisation μ; false if some (Q_uu + μI)_FF is not
   * positive definite. */
  const backward = (D: StageDerivatives[], term: typeof termG, mu: number): boolean => {
    Vx.set(term.lx);
    Vxx.set(term.lxx);
    dV1 = 0;
    dV2 = 0;
    for (let k = N - 1; k >= 0; k--) {
      const d = D[k];
      // Q-function (header, step 2).
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let a = 0;
          for (let l = 0; l < n; l++) a += Vxx[i * n + l] * d.fx[l * n + j];
          Vfx[i * n + j] = a;
        }
      for (let i = 0; i < n; i++)
        for (let j = 0; j < m; j++) {
          let a = 0;
          for (let l = 0; l < n; l++) a += Vxx[i * n + l] * d.fu[l * m + j];
          Vfu[i * m + j] = a;
        }
      for (let i = 0; i < n; i++) {
        let a = d.lx[i];
        for (let l = 0; l < n; l++) a += d.fx[l * n + i] * Vx[l];
        Qx[i] = a;
        for (let j = 0; j < n; j++) {
          let b = d.hxx[i * n + j];
          for (let l = 0; l < n; l++) b += d.fx[l * n + i] * Vfx[l * n + j];
          Qxx[i * n + j] = b;
        }
      }
      for (let i = 0; i < m; i++) {
        let a = d.lu[i];
        for (let l = 0; l < n; l++) a += d.fu[l * m + i] * Vx[l];
        Qu[i] = a;
        for (let j = 0; j < n; j++) {
          let b = d.hux[i * n + j];
          for (let l = 0; l < n; l++) b += d.fu[l * m + i] * Vfx[l * n + j];
          Qux[i * n + j] = b;
        }
        for (let j = 0; j < m; j++) {
          let b = d.huu[i * m + j];
          for (let l = 0; l < n; l++) b += d.fu[l * m + i] * Vfu[l * m + j];
          Quu[i * m + j] = b;
        }
      }
      for (let j = 0; j < m; j++) {
        lo[j] = uLow[j] - U[k * m + j];
        hi[j] = uHigh[j] - U[k * m + j];
        Quu[j * m + j] += mu;
      }
      // Feedforward: the box QP (closed form for a single control).
      const K = Kg.subarray(k * m * n, (k + 1) * m * n);
      const kk = kf.subarray(k * m, (k + 1) * m);
      K.fill(0);
      let nf = 0;
      if (m === 1) {
        const h = Quu[0];
        if (h > 0) {
          const v = -Qu[0] / h;
          kk[0] = v > hi[0] ? hi[0] : v < lo[0] ? lo[0] : v;
          if (kk[0] === v) {
            idx[nf++] = 0;
            L[0] = Math.sqrt(h);
          }
        } else if ((lo[0] === 0 && Qu[0] > 0) || (hi[0] === 0 && Qu[0] < 0)) {
          // On a bound that the gradient pushes against: held there whatever the curvature.
          kk[0] = 0;
        } else {
          failStage = k;
          failControl = 0;
          return false;
        }
      } else {
        const qp = boxQp(Quu, Qu, lo, hi, kk);
        kk.set(qp.x);
        for (let j = 0; j < m; j++) if (qp.free[j]) idx[nf++] = j;
        if (qp.status === "not-pd" || (nf > 0 && !choleskyBlock(Quu, m, idx, nf, L))) {
          failStage = k;
          failControl = 0;
          for (let j = 1; j < m; j++)
            if (Quu[j * m + j] < Quu[failControl * m + failControl]) failControl = j;
          return false;
        }
      }
      // Feedback on the free rows: K_F = −(Q_uu + μI)_FF⁻¹ Q_ux,F.
      for (let c = 0; c < n; c++) {
        for (let a = 0; a < nf; a++) col[a] = -Qux[idx[a] * n + c];
        choleskySolve(L, nf, col);
        for (let a = 0; a < nf; a++) K[idx[a] * n + c] = col[a];
      }
      for (let j = 0; j < m; j++) Quu[j * m + j] -= mu;
      // Value function (Tassa et al. 2014), with the unregularised Q_uu.
      for (let i = 0; i < m; i++) {
        let quk = 0;
        for (let j = 0; j < m; j++) quk += Quu[i * m + j] * kk[j];
        dV1 += kk[i] * Qu[i];
        dV2 += 0.5 * kk[i] * quk;
      }
      for (let i = 0; i < n; i++) {
        let v = Qx[i];
        for (let a = 0; a < m; a++) {
          let quk = 0;
          for (let b = 0; b < m; b++) quk += Quu[a * m + b] * kk[b];
          v += K[a * n + i] * (quk + Qu[a]) + Qux[a * n + i] * kk[a];
        }
        Vx[i] = v;
      }
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let v = Qxx[i * n + j];
          for (let a = 0; a < m; a++) {
            let quK = 0;
            for (let b = 0; b < m; b++) quK += Quu[a * m + b] * K[b * n + j];
            v += K[a * n + i] * (quK + Qux[a * n + j]) + Qux[a * n + i] * K[a * n + j];
          }
          Vxx[i * n + j] = v;
          Vxx[j * n + i] = v;
        }
    }
    return true;
  };

  /** Forward pass at step size α into (Xn, Un); returns the new cost. */
  const forward = (alpha: number): number => {
    for (let i = 0; i < n; i++) Xn[i] = s[i];
    let Jn = 0;
    for (let k = 0; k < N; k++) {
      const x = Xn.subarray(k * n, (k + 1) * n);
      for (let i = 0; i < n; i++) dx[i] = x[i] - X[k * n + i];
      for (let j = 0; j < m; j++) {
        let v = U[k * m + j] + alpha * kf[k * m + j];
        for (let i = 0; i < n; i++) v += Kg[(k * m + j) * n + i] * dx[i];
        Un[k * m + j] = v > uHigh[j] ? uHigh[j] : v < uLow[j] ? uLow[j] : v;
      }
      const u = Un.subarray(k * m, (k + 1) * m);
      Jn += ocp.stageCost(theta, k, x, u);
      ocp.dynamics(theta, x, u, Xn.subarray((k + 1) * n, (k + 2) * n));
    }
    return Jn + ocp.terminalCost(theta, Xn.subarray(N * n));
  };

  /**
   * Line search along the last backward pass's gains; the accepted α, or 0. `expand` (Gauss–Newton
   * steps): after a full step, keep doubling α while the cost keeps falling — the Gauss–Newton model
   * overestimates the curvature where the true one is negative, and its full step can be far too short.
   */
  const lineSearch = (expand: boolean): number => {
    for (let alpha = 1; alpha > 1e-4; alpha *= 0.5) {
      const Jn = forward(alpha);
      if (!Number.isFinite(Jn)) continue;
      const expected = -(alpha * dV1 + alpha * alpha * dV2);
      const actual = J - Jn;
      const floor = EXPECTED_FLOOR * (1 + Math.abs(J));
      if ((expected > 0 && actual >= 1e-4 * expected) || (expected <= floor && actual >= -floor)) {
        let best = alpha;
        let Jbest = Jn;
        Ub.set(Un);
        Xb.set(Xn);
        if (expand && alpha === 1 && actual > floor)
          for (let a = 2; a <= MAX_EXPANSION; a *= 2) {
            const Je = forward(a);
            if (!(Je < Jbest - floor)) break;
            best = a;
            Jbest = Je;
            Ub.set(Un);
            Xb.set(Xn);
          }
        J = Jbest;
        U.set(Ub);
        X.set(Xb);
        return best;
      }
    }
    return 0;
  };

  /**
   * Leave a stationary point that is not a strict minimum (the pendulum hanging at rest under u ≡ 0: the
   * gradient vanishes by symmetry) along the failed stage's direction of non-positive curvature: u at
   * that stage ± δ, the later stages following the feedback gains just computed (so the move is along the
   * reduced problem), the sign with the lower cost. False if neither lowers the cost.
   */
  const escapeSaddle = (): boolean => {
    const k = failStage;
    const j = failControl;
    const range = uHigh[j] - uLow[j];
    const delta = 0.01 * (Number.isFinite(range) ? range / 2 : 1);
    kf.fill(0);
    Kg.fill(0, 0, (k + 1) * m * n);
    let best = J;
    let bestSign = 0;
    for (const sign of [1, -1]) {
      kf[k * m + j] = sign * delta;
      const Jn = forward(1);
      if (Jn < best) {
        best = Jn;
        bestSign = sign;
        Ub.set(Un);
        Xb.set(Xn);
      }
    }
    if (bestSign === 0) return false;
    J = best;
    U.set(Ub);
    X.set(Xb);
    return true;
  };

  let mu = 0;
  let status: IlqrSolution["status"] = "max-iterations";
  let gradNorm = Number.POSITIVE_INFINITY;
  let it = 0;
  let fresh = false;
  let escapes = 0;
  for (; it <= cfg.maxIterations; it++) {
    if (!fresh) {
      derivatives();
      gradNorm = projectedGradientNorm(ocp, U, grad);
      fresh = true;
    }
    if (gradNorm <= cfg.gradTol) {
      // Stationary: a strict local minimum iff the unregularised exact backward pass succeeds.
      if (backward(D, term, 0)) {
        status = "converged";
        break;
      }
      if (it === cfg.maxIterations || escapes >= MAX_ESCAPES || !escapeSaddle()) {
        status = "saddle";
        break;
      }
      escapes++;
      fresh = false;
      continue;
    }
    if (it === cfg.maxIterations) break;
    // The exact Newton step where the exact Hessian is positive definite (fast local convergence)…
    let alpha = 0;
    if (tryExact && mu === 0 && backward(D, term, 0)) alpha = lineSearch(false);
    // …else Gauss–Newton steps (positive semidefinite curvature), Levenberg–Marquardt-damped as needed.
    while (alpha === 0 && mu <= cfg.muMax) {
      gaussNewton();
      if (backward(G, termG, mu)) alpha = lineSearch(true);
      if (alpha === 0) mu = Math.max(cfg.muMin, 10 * mu);
    }
    onIteration?.({ iteration: it, cost: J, gradNorm, mu, alpha });
    if (alpha === 0) {
      status = "stalled";
      break;
    }
    fresh = false;
    mu = mu / 10 < cfg.muMin ? 0 : mu / 10;
  }
  if (!fresh) {
    derivatives();
    gradNorm = projectedGradientNorm(ocp, U, grad);
  }
  U = Float64Array.from(U);
  return {
    U,
    X: Float64Array.from(X),
    cost: J,
    iterations: it,
    converged: status === "converged",
    status,
    gradNorm,
    active: activeSet(ocp, U),
    grad: Float64Array.from(grad),
  };
}

/** Counters of a controller's solves (for reports). */
export interface MpcStats {
  solves: number;
  notConverged: number;
  iterations: number;
}

/**
 * The MPC policy u₀*(s; θ) of an `Ocp` solved by `solveIlqr`, warm-started across calls. Implements the
 * outer level's `DifferentiableController`.
 */
export class IlqrMpcController extends OcpController<IlqrSolution> {
  readonly ocp: Ocp;
  readonly config: IlqrSolverConfig;
  readonly nTheta: number;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly thetaNames: readonly string[];
  readonly actionLow: Float64Array;
  readonly actionHigh: Float64Array;
  /** Nominal θ (the OCP's, if it has one; else zeros). */
  readonly theta0: Float64Array;
  readonly stats: MpcStats = { solves: 0, notConverged: 0, iterations: 0 };

  constructor(ocp: Ocp & { theta0?: Float64Array }, config: z.input<typeof IlqrSolverConfigSchema> = {}) {
    super();
    this.ocp = ocp;
    this.config = IlqrSolverConfigSchema.parse(config);
    this.nTheta = ocp.nTheta;
    this.stateSize = ocp.n;
    this.actionSize = ocp.m;
    this.thetaNames = ocp.thetaNames;
    this.actionLow = Float64Array.from(ocp.uLow);
    this.actionHigh = Float64Array.from(ocp.uHigh);
    this.theta0 = ocp.theta0 ? Float64Array.from(ocp.theta0) : new Float64Array(ocp.nTheta);
  }

  /** The initial controls of the next solve: the previous solution shifted (warm start) or zeros. */
  initialGuess(): Float64Array {
    const { m, horizon: N } = this.ocp;
    const U0 = new Float64Array(N * m);
    if (this.config.warmStart && this.prev) {
      U0.set(this.prev.subarray(m));
      U0.set(this.prev.subarray((N - 1) * m), (N - 1) * m);
    }
    return U0;
  }

  /** Solve at (θ, s) from the warm start and remember the solution for the next call. */
  solve(theta: Float64Array, s: ArrayLike<number>): IlqrSolution {
    this.checkSizes(theta, s);
    const sol = solveParsed(this.ocp, theta, s, this.initialGuess(), this.config);
    this.prev = sol.U;
    this.lastSolution = sol;
    this.stats.solves++;
    this.stats.iterations += sol.iterations;
    if (!sol.converged) this.stats.notConverged++;
    return sol;
  }

  private checkSizes(theta: Float64Array, s: ArrayLike<number>): void {
    if (theta.length !== this.nTheta)
      throw new RangeError(`θ: expected ${this.nTheta} entries, got ${theta.length}`);
    if (s.length !== this.stateSize)
      throw new RangeError(`state: expected ${this.stateSize} entries, got ${s.length}`);
  }
}

export const PendulumMpcConfigSchema = PendulumOcpConfigSchema.extend({
  solver: IlqrSolverConfigSchema.default(IlqrSolverConfigSchema.parse({})).describe("DDP solver settings"),
});
export type PendulumMpcConfig = z.infer<typeof PendulumMpcConfigSchema>;

/** DDP-MPC for the pendulum (models.ts `pendulumOcp`: state (ϑ, ω), θ per `tune`). */
export function pendulumMpc(config: z.input<typeof PendulumMpcConfigSchema> = {}): IlqrMpcController {
  const c = PendulumMpcConfigSchema.parse(config);
  const { solver, ...problem } = c;
  return new IlqrMpcController(pendulumOcp(problem), solver);
}

export const CartpoleMpcConfigSchema = CartpoleOcpConfigSchema.extend({
  solver: IlqrSolverConfigSchema.default(IlqrSolverConfigSchema.parse({})).describe("DDP solver settings"),
});
export type CartpoleMpcConfig = z.infer<typeof CartpoleMpcConfigSchema>;

/** DDP-MPC for the cart-pole (models.ts `cartpoleOcp`: state (x, ẋ, ϑ, ϑ̇), θ per `tune`). */
export function cartpoleMpc(config: z.input<typeof CartpoleMpcConfigSchema> = {}): IlqrMpcController {
  const c = CartpoleMpcConfigSchema.parse(config);
  const { solver, ...problem } = c;
  return new IlqrMpcController(cartpoleOcp(problem), solver);
}
