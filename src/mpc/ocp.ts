/**
 * The N-step optimal-control problem an MPC policy solves at state s (issue 9, item 1):
 *
 *   min_U J(U; s, θ) = Σ_{k<N} ℓ_k(x_k, u_k; θ) + T(x_N; θ),   x_{k+1} = f(x_k, u_k; θ),  x_0 = s,
 *   lo ≤ u_k ≤ hi,
 *
 * with U = (u_0, …, u_{N−1}) the decision variables (the states are eliminated: "single shooting").
 * `Ocp` is what the solvers (ilqr-mpc.ts, lq-mpc.ts) and the sensitivity (sensitivity.ts) need: values,
 * first derivatives, the Hessian of the stage Lagrangian ℓ_k + λᵀf (exact second derivatives of the model,
 * contracted with a costate λ), and the θ-derivatives of all of these.
 *
 * `ParametricOcp` builds one from parts: a dynamics model f(x, u; p) with physical parameters p, a stage
 * cost and a terminal cost that are linear in their weights (ℓ = fixed(x, u) + Σ_i w_i φ_i(x, u)), a
 * discount γ (stage k is weighted γ^k, the terminal cost γ^N), and a choice of which groups of (p, w, w_T)
 * are tuned. θ layout: [model params | stage weights | terminal weights], each group only if tuned, in the
 * order of the model's / cost's names; untuned entries stay at their nominal values. Weights are
 * log-parameterised (w = exp θ, so they stay positive under any outer step) or direct (w = θ); physical
 * parameters are always direct.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";

/** Derivatives of stage k at (x, u) (row-major; n = state size, m = control size, nθ = θ length). */
export interface StageDerivatives {
  /** ∂f/∂x (n×n), ∂f/∂u (n×m). */
  fx: Float64Array;
  fu: Float64Array;
  /** ∇ℓ_k (n), (m). */
  lx: Float64Array;
  lu: Float64Array;
  /** Hessian blocks of ℓ_k + λᵀf (λ the costate of x_{k+1}), (n×n), (m×n), (m×m). Without λ: the
   * Gauss–Newton curvature (no dynamics term, each cost term's positive-semidefinite Gauss–Newton part). */
  hxx: Float64Array;
  hux: Float64Array;
  huu: Float64Array;
  /** With θ: ∂f/∂θ (n×nθ), ∂/∂θ ∇_x(ℓ_k + λᵀf) (n×nθ), ∂/∂θ ∇_u(ℓ_k + λᵀf) (m×nθ). */
  ft: Float64Array;
  hxt: Float64Array;
  hut: Float64Array;
}

export interface TerminalDerivatives {
  /** ∇T (n), ∇²T (n×n), ∂∇T/∂θ (n×nθ). */
  lx: Float64Array;
  lxx: Float64Array;
  lxt: Float64Array;
}

export interface Ocp {
  readonly n: number;
  readonly m: number;
  readonly horizon: number;
  readonly nTheta: number;
  readonly thetaNames: readonly string[];
  /** Control bounds (±Infinity where unbounded). */
  readonly uLow: Float64Array;
  readonly uHigh: Float64Array;
  /** x′ = f(x, u; θ) into out (out must not alias x). */
  dynamics(theta: Float64Array, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void;
  stageCost(theta: Float64Array, k: number, x: ArrayLike<number>, u: ArrayLike<number>): number;
  terminalCost(theta: Float64Array, x: ArrayLike<number>): number;
  /** Fills `out` (λ = costate of x_{k+1}, or null for the Gauss–Newton curvature; θ-blocks only when
   * `withTheta`, and their λ-terms only with λ). */
  stageDerivatives(
    theta: Float64Array,
    k: number,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: Float64Array | null,
    withTheta: boolean,
    out: StageDerivatives,
  ): void;
  /** ∇T, ∇²T (its Gauss–Newton part when `gaussNewton`), and ∂∇T/∂θ when `withTheta`. */
  terminalDerivatives(
    theta: Float64Array,
    x: ArrayLike<number>,
    withTheta: boolean,
    out: TerminalDerivatives,
    gaussNewton?: boolean,
  ): void;
}

export function stageDerivativesBuffer(n: number, m: number, nTheta: number): StageDerivatives {
  return {
    fx: new Float64Array(n * n),
    fu: new Float64Array(n * m),
    lx: new Float64Array(n),
    lu: new Float64Array(m),
    hxx: new Float64Array(n * n),
    hux: new Float64Array(m * n),
    huu: new Float64Array(m * m),
    ft: new Float64Array(n * nTheta),
    hxt: new Float64Array(n * nTheta),
    hut: new Float64Array(m * nTheta),
  };
}

export function terminalDerivativesBuffer(n: number, nTheta: number): TerminalDerivatives {
  return { lx: new Float64Array(n), lxx: new Float64Array(n * n), lxt: new Float64Array(n * nTheta) };
}

/** x_0 = s, x_{k+1} = f(x_k, u_k) into X ((N+1)·n); returns J(U). */
export function rollout(
  ocp: Ocp,
  theta: Float64Array,
  s: ArrayLike<number>,
  U: Float64Array,
  X: Float64Array,
): number {
  const { n, m, horizon: N } = ocp;
  for (let i = 0; i < n; i++) X[i] = s[i];
  let J = 0;
  for (let k = 0; k < N; k++) {
    const x = X.subarray(k * n, (k + 1) * n);
    const u = U.subarray(k * m, (k + 1) * m);
    J += ocp.stageCost(theta, k, x, u);
    ocp.dynamics(theta, x, u, X.subarray((k + 1) * n, (k + 2) * n));
  }
  return J + ocp.terminalCost(theta, X.subarray(N * n));
}

/**
 * One step of the costate recursion at stage k from λ_{k+1} (`lamNext`): ∂J/∂u_k = ∇_uℓ_k + f_uᵀλ_{k+1}
 * into grad[k·m …] and λ_k = ∇_xℓ_k + f_xᵀλ_{k+1} into `lamK` (n; must not alias `lamNext`). No
 * allocation: it runs in every DDP iteration.
 */
export function costateStep(
  d: Pick<StageDerivatives, "lu" | "lx" | "fu" | "fx">,
  lamNext: Float64Array,
  n: number,
  m: number,
  k: number,
  grad: Float64Array,
  lamK: Float64Array,
): void {
  for (let j = 0; j < m; j++) {
    let g = d.lu[j];
    for (let i = 0; i < n; i++) g += d.fu[i * m + j] * lamNext[i];
    grad[k * m + j] = g;
  }
  for (let j = 0; j < n; j++) {
    let v = d.lx[j];
    for (let i = 0; i < n; i++) v += d.fx[i * n + j] * lamNext[i];
    lamK[j] = v;
  }
}

/**
 * ∇_U J by the adjoint (costate) recursion λ_N = ∇T(x_N), λ_k = ∇_xℓ_k + f_xᵀλ_{k+1},
 * ∂J/∂u_k = ∇_uℓ_k + f_uᵀλ_{k+1}. Writes the gradient into `grad` (N·m) and the costates into `lambda`
 * ((N+1)·n) if given.
 */
export function costateGradient(
  ocp: Ocp,
  theta: Float64Array,
  X: Float64Array,
  U: Float64Array,
  grad: Float64Array,
  lambda?: Float64Array,
): void {
  const { n, m, horizon: N } = ocp;
  const d = stageDerivativesBuffer(n, m, 0);
  const t = terminalDerivativesBuffer(n, 0);
  ocp.terminalDerivatives(theta, X.subarray(N * n), false, t);
  let lam = Float64Array.from(t.lx);
  if (lambda) lambda.set(lam, N * n);
  for (let k = N - 1; k >= 0; k--) {
    ocp.stageDerivatives(
      theta,
      k,
      X.subarray(k * n, (k + 1) * n),
      U.subarray(k * m, (k + 1) * m),
      null,
      false,
      d,
    );
    const next = new Float64Array(n);
    costateStep(d, lam, n, m, k, grad, next);
    lam = next;
    if (lambda) lambda.set(lam, k * n);
  }
}

/**
 * The KKT residual of the box-constrained problem: ‖P(∇_U J)‖∞ where P zeroes the components of a
 * control on a bound whose gradient pushes it outwards (those are held by the bound's multiplier).
 */
export function projectedGradientNorm(
  ocp: Pick<Ocp, "m" | "uLow" | "uHigh">,
  U: Float64Array,
  grad: Float64Array,
): number {
  const { m, uLow, uHigh } = ocp;
  let r = 0;
  for (let i = 0; i < U.length; i++) {
    const j = i % m;
    const g = grad[i];
    if ((U[i] === uLow[j] && g > 0) || (U[i] === uHigh[j] && g < 0)) continue;
    r = Math.max(r, Math.abs(g));
  }
  return r;
}

/** −1 / +1 where a control sits on its lower / upper bound, 0 where it is free. */
export function activeSet(ocp: Pick<Ocp, "m" | "uLow" | "uHigh">, U: Float64Array): Int8Array {
  const { m, uLow, uHigh } = ocp;
  const a = new Int8Array(U.length);
  for (let i = 0; i < U.length; i++) {
    const j = i % m;
    a[i] = U[i] === uLow[j] ? -1 : U[i] === uHigh[j] ? 1 : 0;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------------
// Parts of a parametric problem: dynamics with physical parameters, costs linear in their weights.

/** Derivatives of a dynamics model f(x, u; p) (np = number of physical parameters). */
export interface DynamicsDerivatives {
  /** ∂f/∂x (n×n), ∂f/∂u (n×m), ∂f/∂p (n×np). */
  fx: Float64Array;
  fu: Float64Array;
  fp: Float64Array;
  /** Second derivatives of λᵀf: (n×n), (m×n), (m×m), ∂²/∂x∂p (n×np), ∂²/∂u∂p (m×np). */
  hxx: Float64Array;
  hux: Float64Array;
  huu: Float64Array;
  hxp: Float64Array;
  hup: Float64Array;
}

export interface MpcDynamics {
  readonly n: number;
  readonly m: number;
  /** Physical parameter names (p's layout). */
  readonly paramNames: readonly string[];
  step(p: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void;
  /**
   * fx, fu always; fp when `withParams`; the λ-contracted second derivatives when λ is given (hxp, hup
   * only with both). Blocks not computed are left untouched.
   */
  derivatives(
    p: ArrayLike<number>,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: ArrayLike<number> | null,
    withParams: boolean,
    out: DynamicsDerivatives,
  ): void;
}

export function dynamicsDerivativesBuffer(n: number, m: number, np: number): DynamicsDerivatives {
  return {
    fx: new Float64Array(n * n),
    fu: new Float64Array(n * m),
    fp: new Float64Array(n * np),
    hxx: new Float64Array(n * n),
    hux: new Float64Array(m * n),
    huu: new Float64Array(m * m),
    hxp: new Float64Array(n * np),
    hup: new Float64Array(m * np),
  };
}

/**
 * A scalar feature of one coordinate z (a state entry x_i or a control entry u_j):
 * "square" z², "halfSquare" ½z², "angle" 2(1 − cos z) (= |e^{iz} − 1|², ≈ z² near 0, smooth and
 * 2π-periodic, so an unwrapped angle costs like its normalised value).
 */
export type FeatureKind = "square" | "halfSquare" | "angle";

export interface CoordinateFeature {
  name: string;
  on: "x" | "u";
  index: number;
  kind: FeatureKind;
}

function featureValue(kind: FeatureKind, z: number): number {
  return kind === "square" ? z * z : kind === "halfSquare" ? 0.5 * z * z : 2 * (1 - Math.cos(z));
}
function featureGrad(kind: FeatureKind, z: number): number {
  return kind === "square" ? 2 * z : kind === "halfSquare" ? z : 2 * Math.sin(z);
}
/** d²φ/dz²; its Gauss–Newton part with `gn` (2(1 − cos z) = |e^{iz} − 1|², residual Jacobian of norm 1:
 * curvature 2 instead of 2 cos z). */
function featureCurv(kind: FeatureKind, z: number, gn: boolean): number {
  return kind === "square" ? 2 : kind === "halfSquare" ? 1 : gn ? 2 : 2 * Math.cos(z);
}

/**
 * c(x, u; w) = ½xᵀQ₀x + ½uᵀR₀u + Σ_i w_i φ_i(z_i): weighted coordinate features plus a fixed quadratic
 * part (Q₀, R₀ hold the off-diagonals of an LQ cost; absent elsewhere). A terminal cost has nu = 0.
 */
export class CoordinateCost {
  readonly nx: number;
  readonly nu: number;
  readonly features: readonly CoordinateFeature[];
  readonly fixedQ: Float64Array | null;
  readonly fixedR: Float64Array | null;

  constructor(
    nx: number,
    nu: number,
    features: readonly CoordinateFeature[],
    fixed: { Q?: ArrayLike<number>; R?: ArrayLike<number> } = {},
  ) {
    for (const f of features)
      if (f.index < 0 || f.index >= (f.on === "x" ? nx : nu))
        throw new RangeError(`cost feature ${f.name}: index ${f.index} out of range`);
    this.nx = nx;
    this.nu = nu;
    this.features = features;
    this.fixedQ = fixed.Q ? Float64Array.from(fixed.Q) : null;
    this.fixedR = fixed.R ? Float64Array.from(fixed.R) : null;
  }

  get names(): string[] {
    return this.features.map((f) => f.name);
  }

  value(w: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>): number {
    let c = 0;
    if (this.fixedQ) c += 0.5 * quadForm(this.fixedQ, x, this.nx);
    if (this.fixedR) c += 0.5 * quadForm(this.fixedR, u, this.nu);
    for (let i = 0; i < this.features.length; i++) {
      const f = this.features[i];
      c += w[i] * featureValue(f.kind, f.on === "x" ? x[f.index] : u[f.index]);
    }
    return c;
  }

  /**
   * Adds scale·(∇c, ∇²c) into lx, lu, lxx (nx×nx), lux (nu×nx), luu (nu×nu), and, when wt is given,
   * scale·dw/dθ·∇φ_i into column `col[i]` of lxt (nx×nt) / lut (nu×nt) for the tuned weights
   * (col[i] < 0: not tuned). `gaussNewton`: the features' Gauss–Newton curvature (positive semidefinite).
   */
  addDerivatives(
    w: ArrayLike<number>,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    scale: number,
    lx: Float64Array,
    lu: Float64Array | null,
    lxx: Float64Array,
    luu: Float64Array | null,
    tuned?: { col: Int32Array; dwdt: Float64Array; nt: number; lxt: Float64Array; lut: Float64Array | null },
    gaussNewton = false,
  ): void {
    const { nx, nu } = this;
    if (this.fixedQ)
      for (let i = 0; i < nx; i++)
        for (let j = 0; j < nx; j++) {
          const q = scale * this.fixedQ[i * nx + j];
          lx[i] += q * x[j];
          lxx[i * nx + j] += q;
        }
    if (this.fixedR && lu && luu)
      for (let i = 0; i < nu; i++)
        for (let j = 0; j < nu; j++) {
          const r = scale * this.fixedR[i * nu + j];
          lu[i] += r * u[j];
          luu[i * nu + j] += r;
        }
    for (let i = 0; i < this.features.length; i++) {
      const f = this.features[i];
      const onX = f.on === "x";
      const z = onX ? x[f.index] : u[f.index];
      const g = featureGrad(f.kind, z);
      const c = featureCurv(f.kind, z, gaussNewton);
      if (onX) {
        lx[f.index] += scale * w[i] * g;
        lxx[f.index * nx + f.index] += scale * w[i] * c;
      } else if (lu && luu) {
        lu[f.index] += scale * w[i] * g;
        luu[f.index * nu + f.index] += scale * w[i] * c;
      }
      if (tuned && tuned.col[i] >= 0) {
        const v = scale * tuned.dwdt[i] * g;
        if (onX) tuned.lxt[f.index * tuned.nt + tuned.col[i]] += v;
        else if (tuned.lut) tuned.lut[f.index * tuned.nt + tuned.col[i]] += v;
      }
    }
  }
}

function quadForm(M: ArrayLike<number>, x: ArrayLike<number>, k: number): number {
  let v = 0;
  for (let i = 0; i < k; i++) {
    let r = 0;
    for (let j = 0; j < k; j++) r += M[i * k + j] * x[j];
    v += x[i] * r;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------
// Configuration shared by every MPC policy.

export const PARAM_GROUPS = ["model", "cost", "terminal"] as const;
export type ParamGroup = (typeof PARAM_GROUPS)[number];

export const TuneSchema = z
  .union([z.enum(["model", "cost", "terminal", "all"]), z.array(z.enum(PARAM_GROUPS)).min(1)])
  .default("all")
  .describe(
    "Which parameter groups θ holds (the others stay at their nominal values): 'model' (dynamics parameters), 'cost' (stage-cost weights), 'terminal' (terminal-cost weights), 'all', or a list of groups",
  );

export const WeightParamSchema = z
  .enum(["log", "direct"])
  .default("log")
  .describe(
    "Cost weights in θ: 'log' (weight = exp θ, always positive) or 'direct' (weight = θ); physical parameters are always direct",
  );

export function tunedGroups(tune: z.infer<typeof TuneSchema>): Set<ParamGroup> {
  if (tune === "all") return new Set(PARAM_GROUPS);
  return new Set(typeof tune === "string" ? [tune] : tune);
}

export interface ParametricOcpSpec {
  dynamics: MpcDynamics;
  stageCost: CoordinateCost;
  terminalCost: CoordinateCost;
  horizon: number;
  /** γ: stage k is weighted γ^k, the terminal cost γ^N. */
  discount: number;
  uLow: ArrayLike<number>;
  uHigh: ArrayLike<number>;
  tune: z.infer<typeof TuneSchema>;
  weights: z.infer<typeof WeightParamSchema>;
  /** Nominal physical parameters and weights (θ₀; the fixed values of untuned entries). */
  nominal: { model: ArrayLike<number>; cost: ArrayLike<number>; terminal: ArrayLike<number> };
}

/** An `Ocp` assembled from a dynamics model, two weighted costs and a tuning choice (header). */
export class ParametricOcp implements Ocp {
  readonly n: number;
  readonly m: number;
  readonly horizon: number;
  readonly nTheta: number;
  readonly thetaNames: readonly string[];
  readonly uLow: Float64Array;
  readonly uHigh: Float64Array;
  readonly discount: number;
  readonly weights: "log" | "direct";
  readonly groups: ReadonlySet<ParamGroup>;
  /** θ at the nominal values. */
  readonly theta0: Float64Array;
  readonly dynamicsModel: MpcDynamics;
  readonly stage: CoordinateCost;
  readonly terminal: CoordinateCost;
  /** Current physical parameters and weights (filled by `unpack`). */
  readonly p: Float64Array;
  readonly w: Float64Array;
  readonly wT: Float64Array;
  // θ index of each model parameter / weight (−1: not tuned), and θ's inverse map.
  private readonly colP: Int32Array;
  private readonly colW: Int32Array;
  private readonly colT: Int32Array;
  private readonly dwdt: Float64Array;
  private readonly dwTdt: Float64Array;
  private readonly dd: DynamicsDerivatives;
  private readonly zeroU: Float64Array;

  constructor(spec: ParametricOcpSpec) {
    const { dynamics, stageCost, terminalCost } = spec;
    this.n = dynamics.n;
    this.m = dynamics.m;
    if (
      stageCost.nx !== this.n ||
      stageCost.nu !== this.m ||
      terminalCost.nx !== this.n ||
      terminalCost.nu !== 0
    )
      throw new RangeError("ParametricOcp: cost sizes do not match the dynamics");
    if (!Number.isInteger(spec.horizon) || spec.horizon < 1)
      throw new InputError(`horizon must be a positive integer, got ${spec.horizon}`, "horizon");
    if (!(spec.discount > 0 && spec.discount <= 1))
      throw new InputError(`discount must be in (0, 1], got ${spec.discount}`, "discount");
    this.horizon = spec.horizon;
    this.discount = spec.discount;
    this.weights = spec.weights;
    this.dynamicsModel = dynamics;
    this.stage = stageCost;
    this.terminal = terminalCost;
    this.uLow = Float64Array.from(spec.uLow);
    this.uHigh = Float64Array.from(spec.uHigh);
    if (this.uLow.length !== this.m || this.uHigh.length !== this.m)
      throw new InputError(`action bounds must have ${this.m} entries`, "actionLow");
    for (let j = 0; j < this.m; j++)
      if (!(this.uLow[j] < this.uHigh[j]))
        throw new InputError(
          `action bounds: need low < high, got [${this.uLow[j]}, ${this.uHigh[j]}]`,
          "actionLow",
        );
    this.groups = tunedGroups(spec.tune);
    const nom = spec.nominal;
    this.p = Float64Array.from(nom.model);
    this.w = Float64Array.from(nom.cost);
    this.wT = Float64Array.from(nom.terminal);
    if (this.p.length !== dynamics.paramNames.length) throw new RangeError("nominal.model: wrong length");
    if (this.w.length !== stageCost.features.length) throw new RangeError("nominal.cost: wrong length");
    if (this.wT.length !== terminalCost.features.length)
      throw new RangeError("nominal.terminal: wrong length");
    const log = spec.weights === "log";
    for (const [g, ws] of [
      ["cost", this.w],
      ["terminal", this.wT],
    ] as const)
      if (log && this.groups.has(g))
        for (const v of ws)
          if (!(v > 0))
            throw new InputError(`log-parameterised ${g} weights must be > 0, got ${v}`, `weights.${g}`);
    const names: string[] = [];
    const theta0: number[] = [];
    const cols = (group: ParamGroup, labels: readonly string[], values: Float64Array, isWeight: boolean) => {
      const col = new Int32Array(labels.length).fill(-1);
      if (!this.groups.has(group)) return col;
      for (let i = 0; i < labels.length; i++) {
        col[i] = names.length;
        const lg = isWeight && log;
        names.push(`${group}/${lg ? "log " : ""}${labels[i]}`);
        theta0.push(lg ? Math.log(values[i]) : values[i]);
      }
      return col;
    };
    this.colP = cols("model", dynamics.paramNames, this.p, false);
    this.colW = cols("cost", stageCost.names, this.w, true);
    this.colT = cols("terminal", terminalCost.names, this.wT, true);
    this.thetaNames = names;
    this.nTheta = names.length;
    this.theta0 = Float64Array.from(theta0);
    this.dwdt = new Float64Array(this.w.length);
    this.dwTdt = new Float64Array(this.wT.length);
    this.dd = dynamicsDerivativesBuffer(this.n, this.m, this.p.length);
    this.zeroU = new Float64Array(0);
  }

  /** Write θ into p, w, w_T (and dw/dθ); returns this for chaining. */
  unpack(theta: ArrayLike<number>): this {
    if (theta.length !== this.nTheta)
      throw new InputError(
        `θ must have ${this.nTheta} entries (${this.thetaNames.join(", ")}), got ${theta.length}`,
        "theta",
      );
    const log = this.weights === "log";
    for (let i = 0; i < this.p.length; i++) if (this.colP[i] >= 0) this.p[i] = theta[this.colP[i]];
    const weights = (col: Int32Array, w: Float64Array, dw: Float64Array) => {
      for (let i = 0; i < w.length; i++) {
        if (col[i] < 0) continue;
        const t = theta[col[i]];
        w[i] = log ? Math.exp(t) : t;
        dw[i] = log ? w[i] : 1;
      }
    };
    weights(this.colW, this.w, this.dwdt);
    weights(this.colT, this.wT, this.dwTdt);
    return this;
  }

  dynamics(theta: Float64Array, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void {
    this.unpack(theta);
    this.dynamicsModel.step(this.p, x, u, out);
  }

  stageCost(theta: Float64Array, k: number, x: ArrayLike<number>, u: ArrayLike<number>): number {
    this.unpack(theta);
    return this.discount ** k * this.stage.value(this.w, x, u);
  }

  terminalCost(theta: Float64Array, x: ArrayLike<number>): number {
    this.unpack(theta);
    return this.discount ** this.horizon * this.terminal.value(this.wT, x, this.zeroU);
  }

  stageDerivatives(
    theta: Float64Array,
    k: number,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: Float64Array | null,
    withTheta: boolean,
    out: StageDerivatives,
  ): void {
    this.unpack(theta);
    const { n, m, nTheta: nt, dd } = this;
    const np = this.p.length;
    const dyn = this.dynamicsModel;
    dyn.derivatives(this.p, x, u, lambda, withTheta, dd);
    out.fx.set(dd.fx);
    out.fu.set(dd.fu);
    out.lx.fill(0);
    out.lu.fill(0);
    if (lambda) {
      out.hxx.set(dd.hxx);
      out.hux.set(dd.hux);
      out.huu.set(dd.huu);
    } else {
      out.hxx.fill(0);
      out.hux.fill(0);
      out.huu.fill(0);
    }
    if (withTheta) {
      out.ft.fill(0);
      out.hxt.fill(0);
      out.hut.fill(0);
      for (let i = 0; i < np; i++) {
        const c = this.colP[i];
        if (c < 0) continue;
        for (let r = 0; r < n; r++) out.ft[r * nt + c] = dd.fp[r * np + i];
        if (lambda) {
          for (let r = 0; r < n; r++) out.hxt[r * nt + c] = dd.hxp[r * np + i];
          for (let r = 0; r < m; r++) out.hut[r * nt + c] = dd.hup[r * np + i];
        }
      }
    }
    // The stage cost's Hessian has no x–u cross terms (coordinate features, block-diagonal fixed part).
    const scale = this.discount ** k;
    this.stage.addDerivatives(
      this.w,
      x,
      u,
      scale,
      out.lx,
      out.lu,
      out.hxx,
      out.huu,
      withTheta ? { col: this.colW, dwdt: this.dwdt, nt, lxt: out.hxt, lut: out.hut } : undefined,
      lambda === null,
    );
  }

  terminalDerivatives(
    theta: Float64Array,
    x: ArrayLike<number>,
    withTheta: boolean,
    out: TerminalDerivatives,
    gaussNewton = false,
  ): void {
    this.unpack(theta);
    out.lx.fill(0);
    out.lxx.fill(0);
    if (withTheta) out.lxt.fill(0);
    this.terminal.addDerivatives(
      this.wT,
      x,
      this.zeroU,
      this.discount ** this.horizon,
      out.lx,
      null,
      out.lxx,
      null,
      withTheta ? { col: this.colT, dwdt: this.dwTdt, nt: this.nTheta, lxt: out.lxt, lut: null } : undefined,
      gaussNewton,
    );
  }
}
