/**
 * Linear-quadratic MPC (issue 9, item 1): at state s solve
 *
 *   min_U Σ_{k<N} γ^k ½(x_kᵀQ x_k + u_kᵀR u_k) + γ^N ½ x_NᵀP x_N,   x_{k+1} = A x_k + B u_k,  x_0 = s,
 *   lo ≤ u_k ≤ hi,
 *
 * and apply u₀*. γ^k makes the finite-horizon problem the truncation of the discounted infinite-horizon
 * one: with P the discounted Riccati solution of src/inner/lqr.ts and no active bounds, u₀* = −K*s for
 * every N.
 *
 * θ (ocp.ts `ParametricOcp`, groups per `tune`): model = (vec A, vec B) row-major, direct; cost = (diag Q,
 * diag R); terminal = diag P — log-parameterised (weight = exp θ) or direct (`weights`). Off-diagonal
 * entries of Q, R, P are fixed at their nominal values. With tune ["model", "cost"] and weights "direct",
 * θ has the layout of linear-gaussian.ts (vec A, vec B, diag Q, diag R).
 *
 * Solvers:
 * - Riccati: the finite-horizon discounted recursion S̃_N = P, S̃_k = Q + γAᵀS̃A − γAᵀS̃B K_k,
 *   K_k = γ(R + γBᵀS̃B)⁻¹BᵀS̃A (lqr.ts `riccatiMap`, S̃_k = γ^{−k}·Hessian of the cost-to-go), u_k = −K_k x_k.
 *   Exact when no bound is active; used first, and kept if its controls are inside the box.
 * - Otherwise the condensed QP over U (N·m variables): x_k = Φ_k s + Γ_k U with Φ_{k+1} = AΦ_k,
 *   Γ_{k+1} = AΓ_k + B E_k, so J = ½UᵀH U + gᵀU + const with
 *   H = Σ_k γ^k(Γ_kᵀQΓ_k + E_kᵀR E_k) + γ^N Γ_NᵀPΓ_N,  g = Σ_k γ^k Γ_kᵀQ Φ_k s + γ^N Γ_NᵀP Φ_N s,
 *   solved by projected Newton (box-qp.ts), warm-started from the previous solution shifted by one step.
 *
 * du₀*∕dθ: sensitivity.ts (IFT on the KKT conditions with the active set fixed).
 */

import { z } from "zod";
import { InputError } from "../common/errors.ts";
import type { LinearGaussianParams } from "../envs/linear-gaussian.ts";
import { discountedLqr, riccatiMap } from "../inner/lqr.ts";
import { boxQp, choleskyBlock } from "./box-qp.ts";
import { OcpController } from "./controller.ts";
import { diagonal, LinearDynamics, lqStageCost, lqTerminalCost } from "./models.ts";
import {
  activeSet,
  costateGradient,
  ParametricOcp,
  projectedGradientNorm,
  rollout,
  TuneSchema,
  WeightParamSchema,
} from "./ocp.ts";

export const LqMpcConfigSchema = z.object({
  horizon: z.number().int().positive().default(20).describe("MPC horizon N"),
  tune: TuneSchema,
  weights: WeightParamSchema,
  terminal: z
    .enum(["riccati", "stage"])
    .default("riccati")
    .describe(
      "Nominal terminal matrix P when the model gives none: 'riccati' = the discounted infinite-horizon Riccati solution of the nominal (A, B, Q, R) (src/inner/lqr.ts), 'stage' = Q",
    ),
  actionLow: z.array(z.number()).optional().describe("Lower control bounds (m entries; default unbounded)"),
  actionHigh: z.array(z.number()).optional().describe("Upper control bounds (m entries; default unbounded)"),
  qpTol: z.number().positive().default(1e-13).describe("Relative KKT tolerance of the condensed box QP"),
  qpMaxIterations: z.number().int().positive().default(200).describe("Projected-Newton iterations per solve"),
  warmStart: z
    .boolean()
    .default(true)
    .describe(
      "Start the QP from the previous solution shifted by one step (else from the Riccati controls, clipped)",
    ),
});
export type LqMpcConfig = z.infer<typeof LqMpcConfigSchema>;

/** Nominal model: full row-major A (n×n), B (n×m), Q (n×n), R (m×m), optional terminal P (n×n). */
export interface LqModel {
  A: ArrayLike<number>;
  B: ArrayLike<number>;
  Q: ArrayLike<number>;
  R: ArrayLike<number>;
  P?: ArrayLike<number>;
}

export interface LqMpcSolution {
  U: Float64Array;
  X: Float64Array;
  cost: number;
  /** "riccati" (no bound active: the unconstrained solution) or "qp" (condensed box QP). */
  method: "riccati" | "qp";
  /** Projected-Newton iterations (0 for Riccati). */
  iterations: number;
  active: Int8Array;
  /** ‖P(∇_U J)‖∞ (KKT residual), from the costate recursion. */
  gradNorm: number;
  /** ∇_U J (on active controls: the bound multipliers, signed). */
  grad: Float64Array;
}

/** The matrices of the LQ problem at θ. */
export interface LqMatrices extends LinearGaussianParams {
  P: Float64Array;
}

function sqrtSize(len: number, what: string): number {
  const k = Math.round(Math.sqrt(len));
  if (k * k !== len || k === 0)
    throw new InputError(`${what} must be a non-empty square matrix (row-major), got ${len} entries`, what);
  return k;
}

export class LqMpcController extends OcpController<LqMpcSolution> {
  readonly ocp: ParametricOcp;
  readonly config: LqMpcConfig;
  readonly gamma: number;
  readonly n: number;
  readonly m: number;
  readonly nTheta: number;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly thetaNames: readonly string[];
  readonly actionLow: Float64Array;
  readonly actionHigh: Float64Array;
  /** θ at the nominal model. */
  readonly theta0: Float64Array;
  private readonly offQ: Float64Array;
  private readonly offR: Float64Array;
  private readonly offP: Float64Array;

  /** `model`: the nominal (A, B, Q, R[, P]); `gamma`: the discount of the stage costs. */
  constructor(model: LqModel, gamma: number, config: z.input<typeof LqMpcConfigSchema> = {}) {
    super();
    const c = LqMpcConfigSchema.parse(config);
    const n = sqrtSize(model.Q.length, "Q");
    const m = sqrtSize(model.R.length, "R");
    if (model.A.length !== n * n) throw new InputError(`A must be ${n}×${n}`, "A");
    if (model.B.length !== n * m) throw new InputError(`B must be ${n}×${m}`, "B");
    if (!(gamma > 0 && gamma <= 1)) throw new InputError(`γ must be in (0, 1], got ${gamma}`, "gamma");
    let P: Float64Array;
    if (model.P) {
      if (model.P.length !== n * n) throw new InputError(`P must be ${n}×${n}`, "P");
      P = Float64Array.from(model.P);
    } else if (c.terminal === "stage") P = Float64Array.from(model.Q);
    else {
      const nominal = {
        A: Float64Array.from(model.A),
        B: Float64Array.from(model.B),
        Q: Float64Array.from(model.Q),
        R: Float64Array.from(model.R),
      };
      try {
        P = discountedLqr(n, m, gamma, nominal).P;
      } catch (e) {
        throw new InputError(
          `terminal 'riccati': ${(e as Error).message}; use terminal 'stage' or give P`,
          "terminal",
        );
      }
    }
    const low = Float64Array.from(c.actionLow ?? Array(m).fill(Number.NEGATIVE_INFINITY));
    const high = Float64Array.from(c.actionHigh ?? Array(m).fill(Number.POSITIVE_INFINITY));
    this.ocp = new ParametricOcp({
      dynamics: new LinearDynamics(n, m),
      stageCost: lqStageCost(n, m, model.Q, model.R),
      terminalCost: lqTerminalCost(n, P),
      horizon: c.horizon,
      discount: gamma,
      uLow: low,
      uHigh: high,
      tune: c.tune,
      weights: c.weights,
      nominal: {
        model: [...Array.from(model.A), ...Array.from(model.B)],
        cost: [...diagonal(model.Q, n), ...diagonal(model.R, m)],
        terminal: diagonal(P, n),
      },
    });
    this.config = c;
    this.gamma = gamma;
    this.n = n;
    this.m = m;
    this.nTheta = this.ocp.nTheta;
    this.stateSize = n;
    this.actionSize = m;
    this.thetaNames = this.ocp.thetaNames;
    this.actionLow = this.ocp.uLow;
    this.actionHigh = this.ocp.uHigh;
    this.theta0 = this.ocp.theta0;
    const st = this.ocp.stage;
    this.offQ = st.fixedQ ?? new Float64Array(n * n);
    this.offR = st.fixedR ?? new Float64Array(m * m);
    this.offP = this.ocp.terminal.fixedQ ?? new Float64Array(n * n);
  }

  /**
   * From a linear-Gaussian problem (linear-gaussian.ts): its simulator's (A, B, Q, R) as the nominal
   * model and its γ. The paper's continuous example: `LqMpcController.fromProblem(paperContinuousProblem())`.
   */
  static fromProblem(
    problem: { gamma: number; simulator: Pick<LinearGaussianParams, "A" | "B" | "Q" | "R"> },
    config: z.input<typeof LqMpcConfigSchema> = {},
  ): LqMpcController {
    return new LqMpcController(problem.simulator, problem.gamma, config);
  }

  /** A, B, Q, R, P at θ. */
  matrices(theta: ArrayLike<number>): LqMatrices {
    const { n, m } = this;
    const o = this.ocp.unpack(theta);
    const A = o.p.slice(0, n * n);
    const B = o.p.slice(n * n, n * n + n * m);
    const Q = Float64Array.from(this.offQ);
    const R = Float64Array.from(this.offR);
    const P = Float64Array.from(this.offP);
    for (let i = 0; i < n; i++) Q[i * n + i] += o.w[i];
    for (let j = 0; j < m; j++) R[j * m + j] += o.w[n + j];
    for (let i = 0; i < n; i++) P[i * n + i] += o.wT[i];
    return { A, B, Q, R, P };
  }

  /** The unconstrained optimum: Riccati gains K_0..K_{N−1} (header) rolled out from s. */
  riccatiControls(M: LqMatrices, s: ArrayLike<number>): Float64Array {
    const { n, m } = this;
    const N = this.ocp.horizon;
    const gains: Float64Array[] = new Array(N);
    let S: Float64Array = M.P;
    const idx = Int32Array.from({ length: m }, (_, i) => i);
    const L = new Float64Array(m * m);
    for (let k = N - 1; k >= 0; k--) {
      const step = riccatiMap(n, m, this.gamma, M, S);
      // R + γBᵀS̃B must be positive definite: otherwise the problem has no minimum at this θ.
      if (!choleskyBlock(step.G, m, idx, m, L))
        throw new RangeError("LQ-MPC: R + γBᵀS̃B is not positive definite at this θ (non-convex problem)");
      gains[k] = step.K;
      S = step.next;
    }
    const U = new Float64Array(N * m);
    let x = Float64Array.from(s);
    for (let k = 0; k < N; k++) {
      const xn = new Float64Array(n);
      for (let j = 0; j < m; j++) {
        let u = 0;
        for (let i = 0; i < n; i++) u -= gains[k][j * n + i] * x[i];
        U[k * m + j] = u;
      }
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let l = 0; l < n; l++) v += M.A[i * n + l] * x[l];
        for (let j = 0; j < m; j++) v += M.B[i * m + j] * U[k * m + j];
        xn[i] = v;
      }
      x = xn;
    }
    return U;
  }

  /** Condensed QP (H, g) of the header at (θ, s). */
  condensedQp(M: LqMatrices, s: ArrayLike<number>): { H: Float64Array; g: Float64Array } {
    const { n, m, gamma } = this;
    const N = this.ocp.horizon;
    const nu = N * m;
    const H = new Float64Array(nu * nu);
    const g = new Float64Array(nu);
    let c = Float64Array.from(s); // Φ_k s
    let G = new Float64Array(n * nu); // Γ_k
    const QG = new Float64Array(n * nu);
    const addStage = (W: Float64Array, scale: number) => {
      // H += scale ΓᵀWΓ, g += scale ΓᵀW c.
      QG.fill(0);
      for (let i = 0; i < n; i++)
        for (let l = 0; l < n; l++) {
          const w = W[i * n + l];
          if (w === 0) continue;
          for (let j = 0; j < nu; j++) QG[i * nu + j] += w * G[l * nu + j];
        }
      for (let a = 0; a < nu; a++) {
        let ga = 0;
        for (let i = 0; i < n; i++) {
          const gia = G[i * nu + a];
          if (gia === 0) continue;
          for (let b = 0; b < nu; b++) H[a * nu + b] += scale * gia * QG[i * nu + b];
          let wc = 0;
          for (let l = 0; l < n; l++) wc += W[i * n + l] * c[l];
          ga += gia * wc;
        }
        g[a] += scale * ga;
      }
    };
    let disc = 1;
    for (let k = 0; k < N; k++) {
      addStage(M.Q, disc);
      for (let a = 0; a < m; a++)
        for (let b = 0; b < m; b++) H[(k * m + a) * nu + k * m + b] += disc * M.R[a * m + b];
      // Φ_{k+1}s = AΦ_k s, Γ_{k+1} = AΓ_k + B E_k.
      const cn = new Float64Array(n);
      const Gn = new Float64Array(n * nu);
      for (let i = 0; i < n; i++) {
        for (let l = 0; l < n; l++) {
          const a = M.A[i * n + l];
          cn[i] += a * c[l];
          if (a !== 0) for (let j = 0; j < nu; j++) Gn[i * nu + j] += a * G[l * nu + j];
        }
        for (let j = 0; j < m; j++) Gn[i * nu + k * m + j] += M.B[i * m + j];
      }
      c = cn;
      G = Gn;
      disc *= gamma;
    }
    addStage(M.P, disc);
    // Symmetrise (rounding).
    for (let a = 0; a < nu; a++)
      for (let b = 0; b < a; b++) {
        const v = 0.5 * (H[a * nu + b] + H[b * nu + a]);
        H[a * nu + b] = v;
        H[b * nu + a] = v;
      }
    return { H, g };
  }

  /** Solve at (θ, s): Riccati if its controls are inside the bounds, else the condensed box QP. */
  solve(theta: Float64Array, s: ArrayLike<number>): LqMpcSolution {
    if (theta.length !== this.nTheta)
      throw new RangeError(`θ: expected ${this.nTheta} entries, got ${theta.length}`);
    if (s.length !== this.n) throw new RangeError(`state: expected ${this.n} entries, got ${s.length}`);
    const { m } = this;
    const N = this.ocp.horizon;
    const { uLow, uHigh } = this.ocp;
    const M = this.matrices(theta);
    let U = this.riccatiControls(M, s);
    let inside = true;
    for (let i = 0; i < U.length; i++) if (U[i] < uLow[i % m] || U[i] > uHigh[i % m]) inside = false;
    let method: LqMpcSolution["method"] = "riccati";
    let iterations = 0;
    if (!inside) {
      method = "qp";
      const { H, g } = this.condensedQp(M, s);
      const lo = Float64Array.from({ length: N * m }, (_, i) => uLow[i % m]);
      const hi = Float64Array.from({ length: N * m }, (_, i) => uHigh[i % m]);
      let start = U;
      if (this.config.warmStart && this.prev) {
        start = new Float64Array(N * m);
        start.set(this.prev.subarray(m));
        start.set(this.prev.subarray((N - 1) * m), (N - 1) * m);
      }
      const qp = boxQp(H, g, lo, hi, start, {
        tol: this.config.qpTol,
        maxIterations: this.config.qpMaxIterations,
      });
      if (qp.status === "not-pd")
        throw new RangeError("LQ-MPC: the condensed Hessian is not positive definite at this θ");
      U = qp.x;
      iterations = qp.iterations;
    }
    const X = new Float64Array((N + 1) * this.n);
    const cost = rollout(this.ocp, theta, s, U, X);
    const grad = new Float64Array(N * m);
    costateGradient(this.ocp, theta, X, U, grad);
    const sol: LqMpcSolution = {
      U,
      X,
      cost,
      method,
      iterations,
      active: activeSet(this.ocp, U),
      gradNorm: projectedGradientNorm(this.ocp, U, grad),
      grad,
    };
    this.prev = U;
    this.lastSolution = sol;
    return sol;
  }
}
