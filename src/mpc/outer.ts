/**
 * RL over MPC, the outer level (issue 9, item 3): tune the parameters θ of a differentiable controller —
 * an MPC's model ρ_θ and stage/terminal cost L_θ — on *real* returns, through the sensitivity du₀/dθ of
 * its solution (src/mpc/controller.ts). The slides' "RL over Policy Training":
 *
 *   deterministic policy gradient  ∇_θ J = E_{s ~ d^π} [ (du₀/dθ)ᵀ ∇_a Q^π(s, a) ],
 *
 * with Q^π learned from real transitions (src/mpc/q-critic.ts), and its stochastic score-function variant
 *
 *   ∇_θ J = E [ Σ_t γ^t ∇_θ log N(a_t; u₀*(s_t; θ), σ²I) (G_t − b(s_t)) ],
 *   ∇_θ log N(a; u₀*, σ²I) = (du₀/dθ)ᵀ (a − u₀*) / σ².
 *
 * Behaviour on the real system: a = u₀*(s; θ) + σε, ε ~ N(0, I). The *unclipped* a is the policy's sample
 * (score and critic use it); the real system receives clip(a) to its declared bounds, so real actions are
 * always inside them (the clip is part of the environment as the Gaussian policy sees it, and both
 * estimators stay exact for that policy). `exact` uses a gradient supplied by the experiment (a known
 * real system; evaluation only, no real data) — the oracle reference.
 *
 * Per iteration: N real trajectories of H steps (every transition counted), fit the critic, estimate the
 * gradient on the tuned entries of θ, ascend (src/outer/ascent.ts), project onto the bounds. The core never
 * prints or writes; metrics go through `onMetrics` with grouped keys, evaluations through `onEval`.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { maxAbs, norm } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import { AscentSchema, makeAscent, projectLower } from "../outer/ascent.ts";
import type { MetricsCallback } from "../outer/bilevel.ts";
import type { EvalCallback, EvalPoint, MethodRun } from "../outer/trace.ts";
import type { DifferentiableController } from "./controller.ts";
import {
  compatibleFeatures,
  fitLstd,
  type LinearQ,
  polynomialFeatures,
  type QFeatures,
  quadraticStateFeatures,
  type RealBatch,
  type StateFeatures,
} from "./q-critic.ts";

export const MPC_GRADIENTS = ["dpg", "score", "exact"] as const;
export type MpcGradient = (typeof MPC_GRADIENTS)[number];

export const CriticConfigSchema = z.object({
  features: z
    .enum(["compatible", "polynomial"])
    .default("compatible")
    .describe(
      "Q features: compatible ((du₀/dθ)ᵀ(a − u₀*) plus state features for V; consistent DPG for any controller with lambda = 1) or polynomial (every monomial of (s, a) up to `degree`; exact for a linear policy on an LQ problem at degree 2)",
    ),
  degree: z.number().int().min(1).max(8).default(2).describe("Degree of the polynomial features"),
  lambda: z
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe(
      "LSTD(λ) trace decay: 0 = LSTD-Q (TD fixed point), 1 = least squares on bootstrapped Monte-Carlo returns",
    ),
  ridge: z
    .number()
    .nonnegative()
    .default(1e-6)
    .describe("Ridge on the LSTD matrix, relative to its mean diagonal magnitude"),
  stateFeatures: z
    .enum(["quadratic", "quadratic-radial", "env"])
    .default("quadratic-radial")
    .describe(
      "State features of V in the compatible critic: quadratic [1, s, s sᵀ], quadratic plus radial bumps exp(−k‖s‖²/radialScale), or the experiment's own (env)",
    ),
  radialWidths: z
    .array(z.number().positive())
    .default([1, 4, 16])
    .describe("k of the radial bumps exp(−k‖s‖²/radialScale)"),
  radialScale: z.number().positive().default(1).describe("Length² scale of the radial bumps"),
});
export type CriticConfig = z.infer<typeof CriticConfigSchema>;

export const MpcOuterConfigSchema = z.object({
  gradient: z
    .enum(MPC_GRADIENTS)
    .default("dpg")
    .describe(
      "Outer gradient: dpg (deterministic policy gradient with a critic learned from the real transitions), score (score-function/REINFORCE with a cross-fitted critic baseline), exact (the experiment's exact real gradient: oracle, uses no real data)",
    ),
  sigma: z
    .number()
    .positive()
    .default(0.3)
    .describe("Exploration std: real actions a = clip(u₀* + σε) with ε ~ N(0, I)"),
  gamma: z
    .number()
    .gt(0)
    .max(1)
    .default(0.99)
    .describe("Discount of the real objective the outer level ascends (critic and state weighting)"),
  realTrajectories: z.number().int().positive().default(20).describe("Real trajectories per iteration"),
  realHorizon: z.number().int().positive().default(50).describe("Steps per real trajectory"),
  bootstrap: z
    .boolean()
    .default(true)
    .describe(
      "The objective continues after realHorizon (a truncated continuing task: the critic bootstraps at the last state); false = it ends there",
    ),
  iterations: z.number().int().nonnegative().default(100).describe("Outer iterations"),
  critic: CriticConfigSchema.default(CriticConfigSchema.parse({})),
  weighting: z
    .enum(["discounted", "uniform"])
    .default("discounted")
    .describe(
      "State weights of gradient and critic: discounted (γ^t, the policy-gradient theorem's) or uniform (every visited state alike: lower variance, biased)",
    ),
  actionPoint: z
    .enum(["mean", "sample"])
    .default("mean")
    .describe("DPG: ∇_a Q̂ at a = u₀*(s) (the slides' formula) or at the sampled action"),
  baseline: z
    .enum(["critic", "none"])
    .default("critic")
    .describe(
      "Score-function baseline b(s) = Q̂(s, u₀*(s)) from a critic fitted on the other half of the batch (cross-fitting keeps it unbiased), or none",
    ),
  tune: z
    .array(z.string().min(1))
    .min(1)
    .default(["all"])
    .describe(
      "Which θ entries are tuned: 'all', or groups = the prefix before '/' of the controller's θ names (e.g. model, cost, terminal), or full names",
    ),
  ...AscentSchema,
  maxStep: z
    .number()
    .nonnegative()
    .default(0)
    .describe("Largest change of any θ entry in one iteration (0 = no limit): a trust region on noisy steps"),
  average: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe(
      "Polyak–Ruppert suffix averaging: the controller evaluated and returned at iteration t has θ̄_t = the mean of the iterates θ_j, ⌈(1 − average)·t⌉ ≤ j ≤ t (0: θ_t itself). Exploration always uses θ_t",
    ),
  evalEvery: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("Evaluate the current θ every that many iterations"),
});
export type MpcOuterConfig = z.infer<typeof MpcOuterConfigSchema>;

/** A real system the outer level may only step (and whose steps it counts). */
export interface StepRealSystem {
  readonly stateSize: number;
  readonly actionSize: number;
  /** Declared action bounds: every action the real system receives is inside them. */
  readonly actionLow: Float64Array;
  readonly actionHigh: Float64Array;
  /** An initial state into `state`. */
  reset(state: Float64Array, rng: Rng): void;
  /** One real step from `state` (advanced in place) under `action`; returns the reward. */
  step(state: Float64Array, action: Float64Array, rng: Rng): number;
}

/** Counts every real transition and refuses actions outside the declared bounds. */
export class CountedRealSystem {
  readonly sys: StepRealSystem;
  transitionsUsed = 0;

  constructor(sys: StepRealSystem) {
    this.sys = sys;
  }

  reset(state: Float64Array, rng: Rng): void {
    this.sys.reset(state, rng);
  }

  step(state: Float64Array, action: Float64Array, rng: Rng): number {
    for (let i = 0; i < this.sys.actionSize; i++)
      if (!(action[i] >= this.sys.actionLow[i] && action[i] <= this.sys.actionHigh[i]))
        throw new RangeError(`real action ${action[i]} outside its declared bounds`);
    this.transitionsUsed++;
    return this.sys.step(state, action, rng);
  }
}

/** Entries of θ the `tune` list selects (1 = tuned). */
export function tuneMask(names: readonly string[], tune: readonly string[]): Float64Array {
  const mask = new Float64Array(names.length);
  for (const g of tune) {
    let hit = false;
    names.forEach((name, i) => {
      if (g === "all" || name === g || name.split("/")[0] === g) {
        mask[i] = 1;
        hit = true;
      }
    });
    if (!hit)
      throw new InputError(
        `tune: '${g}' matches no parameter; θ is ${names.join(", ")} (use 'all', a group before '/', or a name)`,
        "tune",
      );
  }
  return mask;
}

/** Per-step state weight ω_t of the configuration. */
export function stateWeight(config: Pick<MpcOuterConfig, "weighting" | "gamma">): (t: number) => number {
  return config.weighting === "discounted" ? (t) => config.gamma ** t : () => 1;
}

/**
 * N trajectories of H steps of the exploratory policy on the real system (counted), recording what the
 * critic and the gradients need. The controller is reset at each trajectory's start (warm starts stay
 * within a trajectory). s_H's mean, Jacobian and a sampled a_H are recorded without a real step.
 */
export function collectBatch(
  controller: DifferentiableController,
  real: CountedRealSystem,
  theta: Float64Array,
  N: number,
  H: number,
  sigma: number,
  bootstrap: boolean,
  rngs: { real: Rng; explore: Rng },
  /** false: record u₀* only (jacobians stay zero), for methods that need no sensitivity. */
  withJacobian = true,
): RealBatch {
  const n = controller.stateSize;
  const m = controller.actionSize;
  const nTheta = controller.nTheta;
  if (real.sys.stateSize !== n || real.sys.actionSize !== m)
    throw new RangeError("controller and real system differ in state or action size");
  const K = N * (H + 1);
  const b: RealBatch = {
    N,
    H,
    n,
    m,
    nTheta,
    states: new Float64Array(K * n),
    actions: new Float64Array(K * m),
    applied: new Float64Array(K * m),
    means: new Float64Array(K * m),
    jacobians: new Float64Array(K * m * nTheta),
    rewards: new Float64Array(N * H),
    bootstrap,
  };
  const s = new Float64Array(n);
  const u = new Float64Array(m);
  const jac = new Float64Array(m * nTheta);
  const applied = new Float64Array(m);
  const { actionLow: lo, actionHigh: hi } = real.sys;
  for (let i = 0; i < N; i++) {
    controller.reset();
    real.reset(s, rngs.real);
    for (let t = 0; t <= H; t++) {
      const k = i * (H + 1) + t;
      b.states.set(s, k * n);
      if (withJacobian) {
        controller.actAndJacobian(theta, s, u, jac);
        b.jacobians.set(jac, k * m * nTheta);
      } else controller.act(theta, s, u);
      b.means.set(u, k * m);
      for (let j = 0; j < m; j++) {
        const a = u[j] + sigma * rngs.explore.normal();
        b.actions[k * m + j] = a;
        applied[j] = a > hi[j] ? hi[j] : a < lo[j] ? lo[j] : a;
      }
      if (t === H) break;
      b.applied.set(applied, k * m);
      b.rewards[i * H + t] = real.step(s, applied, rngs.real);
    }
  }
  return b;
}

/** The critic's feature map for a configuration. */
export function criticFeatures(
  config: CriticConfig,
  n: number,
  m: number,
  nTheta: number,
  envFeatures?: StateFeatures,
): QFeatures {
  if (config.features === "polynomial") return polynomialFeatures(n, m, config.degree);
  let state: StateFeatures;
  if (config.stateFeatures === "env") {
    if (!envFeatures)
      throw new InputError("critic.stateFeatures 'env': this experiment has no state features", "critic");
    state = envFeatures;
  } else
    state = quadraticStateFeatures(
      n,
      config.stateFeatures === "quadratic-radial" ? config.radialWidths : [],
      config.radialScale,
    );
  return compatibleFeatures(nTheta, m, state);
}

/** ĝ_DPG = (1/N) Σ_i Σ_{t<H} ω_t (du₀/dθ)ᵀ ∇_a Q̂(s_t, a), a = u₀*(s_t) or the sample. */
export function dpgGradient(
  b: RealBatch,
  critic: LinearQ,
  weight: (t: number) => number,
  actionPoint: "mean" | "sample",
): Float64Array {
  const { m, nTheta } = b;
  const g = new Float64Array(nTheta);
  const da = new Float64Array(m);
  for (let i = 0; i < b.N; i++)
    for (let t = 0; t < b.H; t++) {
      const k = i * (b.H + 1) + t;
      const src = actionPoint === "mean" ? b.means : b.actions;
      critic.gradA(b, k, src.subarray(k * m, (k + 1) * m), da);
      const w = weight(t) / b.N;
      const jOff = k * m * nTheta;
      for (let j = 0; j < m; j++) {
        const c = w * da[j];
        for (let p = 0; p < nTheta; p++) g[p] += c * b.jacobians[jOff + j * nTheta + p];
      }
    }
  return g;
}

/**
 * ĝ_score = (1/N) Σ_i Σ_{t<H} ω_t (du₀/dθ)ᵀ (a_t − u₀*) / σ² (G_t − b(s_t)), G_t the discounted return to
 * go (plus γ^{H−t} Q̂(s_H, a_H) when bootstrapping). `critics[i]` serves trajectory i (baseline and
 * bootstrap), fitted without it; null: no baseline and no bootstrap.
 */
export function scoreGradient(
  b: RealBatch,
  critics: ((i: number) => LinearQ) | null,
  sigma: number,
  gamma: number,
  weight: (t: number) => number,
): Float64Array {
  const { m, nTheta, H } = b;
  const g = new Float64Array(nTheta);
  const G = new Float64Array(H);
  const inv = 1 / (sigma * sigma);
  for (let i = 0; i < b.N; i++) {
    const critic = critics?.(i) ?? null;
    const kH = i * (H + 1) + H;
    let acc = b.bootstrap && critic ? critic.value(b, kH, b.actions.subarray(kH * m, (kH + 1) * m)) : 0;
    for (let t = H - 1; t >= 0; t--) {
      acc = b.rewards[i * H + t] + gamma * acc;
      G[t] = acc;
    }
    for (let t = 0; t < H; t++) {
      const k = i * (H + 1) + t;
      const base = critic ? critic.value(b, k, b.means.subarray(k * m, (k + 1) * m)) : 0;
      const c = (weight(t) * (G[t] - base) * inv) / b.N;
      const jOff = k * m * nTheta;
      for (let j = 0; j < m; j++) {
        const d = c * (b.actions[k * m + j] - b.means[k * m + j]);
        for (let p = 0; p < nTheta; p++) g[p] += d * b.jacobians[jOff + j * nTheta + p];
      }
    }
  }
  return g;
}

/** The outer gradient of one batch under a configuration (dpg or score). */
export function batchGradient(
  b: RealBatch,
  config: MpcOuterConfig,
  envFeatures?: StateFeatures,
): { grad: Float64Array; critic: LinearQ | null } {
  const features = criticFeatures(config.critic, b.n, b.m, b.nTheta, envFeatures);
  const weight = stateWeight(config);
  const lstd = {
    gamma: config.gamma,
    lambda: config.critic.lambda,
    ridge: config.critic.ridge,
    weight,
  };
  if (config.gradient === "dpg") {
    const critic = fitLstd(b, features, lstd);
    return { grad: dpgGradient(b, critic, weight, config.actionPoint), critic };
  }
  if (config.gradient !== "score")
    throw new RangeError(`batchGradient: no batch gradient for '${config.gradient}'`);
  if (config.baseline === "none" || b.N < 2)
    return { grad: scoreGradient(b, null, config.sigma, config.gamma, weight), critic: null };
  // Cross-fitting: each half's baseline comes from the other half, so it is independent of the
  // exploration noise it multiplies.
  const half = b.N >> 1;
  const first = fitLstd(b, features, { ...lstd, from: half, to: b.N });
  const second = fitLstd(b, features, { ...lstd, from: 0, to: half });
  return {
    grad: scoreGradient(b, (i) => (i < half ? first : second), config.sigma, config.gamma, weight),
    critic: null,
  };
}

export interface MpcOuterOptions {
  /** Per-θ bounds (projection after each step); absent: unbounded. */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /** Normalised real return of the controller at θ (evaluation only: never counted as real data). */
  evaluate?: (theta: Float64Array) => number;
  /** The exact real gradient ∇_θ J at θ (gradient 'exact'; a known real system, no real data). */
  exactGradient?: (theta: Float64Array) => Float64Array;
  /** State features for critic.stateFeatures = 'env'. */
  stateFeatures?: StateFeatures;
  onMetrics?: MetricsCallback;
  onEval?: EvalCallback;
}

export interface MpcIterationRecord {
  iteration: number;
  realTransitions: number;
  /** The deployed θ: the iterate, or its suffix average (config `average`). */
  theta: Float64Array;
  /** The ascent's iterate θ_t (the controller that explores). */
  iterate: Float64Array;
  /** Normalised real return at θ (NaN where not evaluated). */
  normalized: number;
  /** ‖ĝ‖ on the tuned entries (NaN at the last record). */
  gradNorm: number;
  /** Mean discounted / undiscounted return of this iteration's real batch (NaN at the last record). */
  batchReturn: number;
  batchUndiscounted: number;
}

export interface MpcOuterRun extends MethodRun {
  records: MpcIterationRecord[];
}

export function runMpcOuter(
  controller: DifferentiableController,
  realSystem: StepRealSystem,
  theta0: ArrayLike<number>,
  config: MpcOuterConfig,
  rng: Rng,
  opts: MpcOuterOptions = {},
): MpcOuterRun {
  const nTheta = controller.nTheta;
  if (theta0.length !== nTheta)
    throw new RangeError(`theta0 has ${theta0.length} entries, expected ${nTheta}`);
  if (config.gradient === "exact" && !opts.exactGradient)
    throw new InputError("gradient 'exact' needs an experiment with a known real system", "gradient");
  const mask = tuneMask(controller.thetaNames, config.tune);
  const theta = Float64Array.from(theta0);
  const real = new CountedRealSystem(realSystem);
  const rngs = { real: rng.split(), explore: rng.split() };
  const step = makeAscent(config.optimizer, config.stepSize, config.stepDecay, theta);
  const records: MpcIterationRecord[] = [];
  const points: EvalPoint[] = [];
  const project = () => {
    projectLower(theta, opts.lower);
    if (opts.upper) for (let i = 0; i < nTheta; i++) if (theta[i] > opts.upper[i]) theta[i] = opts.upper[i];
  };
  project();
  // Prefix sums of the iterates θ_0 … θ_t, for the suffix average.
  const prefix: Float64Array[] = [new Float64Array(nTheta)];
  const deployed = (t: number): Float64Array => {
    const from = Math.min(t, Math.ceil((1 - config.average) * t));
    const a = prefix[from];
    const b = prefix[t + 1];
    return Float64Array.from(b, (v, i) => (v - a[i]) / (t + 1 - from));
  };
  for (let it = 0; ; it++) {
    const last = it === config.iterations;
    const evaluate = opts.evaluate && (last || it % config.evalEvery === 0);
    prefix.push(Float64Array.from(theta, (v, i) => prefix[it][i] + v));
    const shown = config.average > 0 ? deployed(it) : Float64Array.from(theta);
    const record: MpcIterationRecord = {
      iteration: it,
      realTransitions: real.transitionsUsed,
      theta: shown,
      iterate: Float64Array.from(theta),
      normalized: evaluate ? (opts.evaluate as (t: Float64Array) => number)(shown) : Number.NaN,
      gradNorm: Number.NaN,
      batchReturn: Number.NaN,
      batchUndiscounted: Number.NaN,
    };
    records.push(record);
    if (evaluate) {
      const p: EvalPoint = {
        iteration: it,
        realTransitions: real.transitionsUsed,
        normalized: record.normalized,
        theta: record.theta,
      };
      points.push(p);
      opts.onEval?.(p);
    }
    if (last) {
      emit(opts.onMetrics, record);
      break;
    }
    let grad: Float64Array;
    if (config.gradient === "exact") grad = (opts.exactGradient as (t: Float64Array) => Float64Array)(theta);
    else {
      const b = collectBatch(
        controller,
        real,
        theta,
        config.realTrajectories,
        config.realHorizon,
        config.sigma,
        config.bootstrap,
        rngs,
      );
      grad = batchGradient(b, config, opts.stateFeatures).grad;
      const r = batchReturns(b, config.gamma);
      record.batchReturn = r.discounted;
      record.batchUndiscounted = r.undiscounted;
    }
    for (let i = 0; i < nTheta; i++) grad[i] *= mask[i];
    record.gradNorm = norm(grad);
    emit(opts.onMetrics, record);
    if (!grad.every(Number.isFinite)) throw new RangeError(`outer gradient not finite at iteration ${it}`);
    const prev = Float64Array.from(theta);
    step(grad, it);
    if (config.maxStep > 0) {
      const d = Float64Array.from(theta, (v, i) => v - prev[i]);
      const big = maxAbs(d);
      if (big > config.maxStep)
        for (let i = 0; i < nTheta; i++) theta[i] = prev[i] + (d[i] * config.maxStep) / big;
    }
    project();
  }
  return { records, points, theta: records[records.length - 1].theta };
}

/** Mean discounted and undiscounted return from t = 0 over a batch's trajectories. */
export function batchReturns(b: RealBatch, gamma: number): { discounted: number; undiscounted: number } {
  let disc = 0;
  let plain = 0;
  for (let i = 0; i < b.N; i++) {
    let g = 1;
    for (let t = 0; t < b.H; t++) {
      const r = b.rewards[i * b.H + t];
      disc += g * r;
      plain += r;
      g *= gamma;
    }
  }
  return { discounted: disc / b.N, undiscounted: plain / b.N };
}

function emit(cb: MetricsCallback | undefined, r: MpcIterationRecord): void {
  if (!cb) return;
  const m: Record<string, number> = {
    "real/transitions": r.realTransitions,
    "outer/gradNorm": r.gradNorm,
    "real/batchReturn": r.batchReturn,
    "real/batchUndiscounted": r.batchUndiscounted,
  };
  if (!Number.isNaN(r.normalized)) m["real/normalized"] = r.normalized;
  r.theta.forEach((t, i) => {
    m[`theta/${i}`] = t;
  });
  cb(r.iteration, m);
}
