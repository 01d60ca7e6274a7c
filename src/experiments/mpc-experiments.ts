/**
 * RL over MPC experiments (issue 9, item 4): the real systems the outer level (src/mpc/outer.ts) steps,
 * the exact evaluations that judge it, and the two benchmarks of `sim2real compare`:
 *
 * - mpc-continuous: the bi-level paper's continuous example (scalar linear-Gaussian system, exponential
 *   reward) controlled by an N-step LQ MPC on the quadratic surrogate. An unconstrained LQ MPC is a linear
 *   feedback u = −K_N(θ) s, so its real return (with the exploration noise σ as the policy's action noise,
 *   the same judge as paper-continuous) has the exact closed form of src/critics/linear-gaussian.ts:
 *   normalised return = J_real(K_N(θ)) / J_real(K*_real).
 * - mpc-pendulum: pendulum swing-up where the MPC's model has the wrong mass and no friction, while the
 *   real pendulum has the SGFT §5 unmodelled friction.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { expectedReturn } from "../critics/linear-gaussian.ts";
import { type ControlEnv, type EnvParams, resolveParams, type StepResult } from "../envs/control/env.ts";
import { sgftFriction } from "../envs/control/gaps.ts";
import { makeEnv } from "../envs/control/registry.ts";
import {
  cholesky,
  gaussianDraw,
  type LinearGaussianProblem,
  reward as lgReward,
  step as lgStep,
  noiseModel,
  paramsFromTheta,
  quad,
} from "../envs/linear-gaussian.ts";
import { discountedLqr, InnerSolveError } from "../inner/lqr.ts";
import { Lu } from "../math/linalg.ts";
import { Rng } from "../math/rng.ts";
import type { DifferentiableController } from "../mpc/controller.ts";
import { PendulumMpcConfigSchema, pendulumMpc } from "../mpc/ilqr-mpc.ts";
import { LqMpcConfigSchema, LqMpcController } from "../mpc/lq-mpc.ts";
import {
  CountedRealSystem,
  collectBatch,
  MpcOuterConfigSchema,
  runMpcOuter,
  type StepRealSystem,
} from "../mpc/outer.ts";
import type { RealBatch, StateFeatures } from "../mpc/q-critic.ts";
import {
  LinearBilevelConfigSchema,
  realOptimum,
  runLinearBilevel,
} from "../outer/bilevel-linear-gaussian.ts";
import { runSysIdLinear, SysIdConfigSchema } from "../outer/system-identification.ts";
import type { EvalCallback, EvalPoint, MethodRun } from "../outer/trace.ts";
import type { Benchmark, BenchmarkMethod, DerivedField } from "./benchmarks.ts";
import type { MethodSpec } from "./compare.ts";
import { paperContinuousProblem } from "./problems.ts";

// ───────────────────────────── linear-Gaussian ─────────────────────────────

/**
 * The problem's real system as a stepwise real system (unbounded actions unless bounds are given). Stage
 * `quadratic` rewards −(sᵀQs + aᵀRa) instead of the exponential reward (the LQ problem, whose Q^π of a
 * linear policy is exactly quadratic).
 */
export function linearGaussianStepSystem(
  problem: LinearGaussianProblem,
  bounds?: { low: ArrayLike<number>; high: ArrayLike<number> },
  stage: "exponential" | "quadratic" = "exponential",
): StepRealSystem {
  const { n, m } = problem;
  const noise = noiseModel(problem);
  const L0 = cholesky(problem.initialCov, n);
  const next = new Float64Array(n);
  const p = problem.real;
  return {
    stateSize: n,
    actionSize: m,
    actionLow: bounds ? Float64Array.from(bounds.low) : new Float64Array(m).fill(Number.NEGATIVE_INFINITY),
    actionHigh: bounds ? Float64Array.from(bounds.high) : new Float64Array(m).fill(Number.POSITIVE_INFINITY),
    reset: (state, rng) => {
      state.set(gaussianDraw(L0, n, rng));
    },
    step: (state, action, rng) => {
      const r =
        stage === "exponential"
          ? lgReward(problem, p, state, action)
          : -(quad(p.Q, state, n) + quad(p.R, action, m));
      lgStep(problem, noise, p, state, action, rng, next);
      state.set(next);
      return r;
    },
  };
}

/**
 * The gain K (m×n) of a controller that is a linear feedback u = −K s at θ, read off its action at the
 * unit states, with dK/dθ ((m·n)×nθ) from its Jacobians there (du/dθ at s = e_j is −∂K[:, j]/∂θ).
 * Throws when the controller is not linear at θ (u(2e_j) ≠ 2u(e_j)): the exact evaluation needs it.
 */
export function linearGain(
  controller: DifferentiableController,
  theta: Float64Array,
  scale = 1,
): { K: Float64Array; dK: Float64Array } {
  const n = controller.stateSize;
  const m = controller.actionSize;
  const nTheta = controller.nTheta;
  const K = new Float64Array(m * n);
  const dK = new Float64Array(m * n * nTheta);
  const s = new Float64Array(n);
  const u = new Float64Array(m);
  const u2 = new Float64Array(m);
  const jac = new Float64Array(m * nTheta);
  for (let j = 0; j < n; j++) {
    s.fill(0);
    s[j] = scale;
    controller.reset();
    controller.actAndJacobian(theta, s, u, jac);
    s[j] = 2 * scale;
    controller.reset();
    controller.act(theta, s, u2);
    for (let i = 0; i < m; i++) {
      if (Math.abs(u2[i] - 2 * u[i]) > 1e-8 * (1 + Math.abs(u2[i])))
        throw new RangeError("the controller is not a linear feedback at this θ (bounds active?)");
      K[i * n + j] = -u[i] / scale;
      for (let p = 0; p < nTheta; p++) dK[(i * n + j) * nTheta + p] = -jac[i * nTheta + p] / scale;
    }
  }
  controller.reset();
  return { K, dK };
}

/** The problem with the policy's action covariance set to σ²I (the exploration the outer level uses). */
export function withExploration(problem: LinearGaussianProblem, sigma: number): LinearGaussianProblem {
  const m = problem.m;
  const cov = new Float64Array(m * m);
  for (let i = 0; i < m; i++) cov[i * m + i] = sigma * sigma;
  return { ...problem, policyCov: cov };
}

/**
 * Exact real return of a linear controller at θ and its exact gradient ∇_θ J = (dK/dθ)ᵀ ∇_K J_real (the
 * exploratory policy a = −K_N(θ) s + σε; `problem.policyCov` should be σ²I, see `withExploration`).
 */
export function exactLinearReturn(
  problem: LinearGaussianProblem,
  controller: DifferentiableController,
  theta: Float64Array,
  derivatives: "value" | "gradient" = "value",
): { J: number; grad: Float64Array; K: Float64Array } {
  const { K, dK } = linearGain(controller, theta);
  const r = expectedReturn(problem, problem.real, K, {
    derivatives: derivatives === "gradient" ? "gradK" : "value",
  });
  const nTheta = controller.nTheta;
  const grad = new Float64Array(nTheta);
  if (derivatives === "gradient")
    for (let e = 0; e < K.length; e++)
      for (let p = 0; p < nTheta; p++) grad[p] += r.gradK[e] * dK[e * nTheta + p];
  return { J: r.J, grad, K };
}

// ───────────────────────────── control envs (pendulum) ─────────────────────────────

/** A control env at fixed parameters as a stepwise real system (its state is the controller's state;
 * envs that terminate are not supported: the pendulum never does). */
export function controlEnvStepSystem(env: ControlEnv, params: EnvParams): StepRealSystem {
  const out: StepResult = { reward: 0, terminated: false };
  return {
    stateSize: env.stateSize,
    actionSize: env.actionSpace.low.length,
    actionLow: env.actionSpace.low,
    actionHigh: env.actionSpace.high,
    reset: (state, rng) => env.reset(params, state, rng),
    step: (state, action, rng) => {
      env.step(params, state, action, rng, out);
      if (out.terminated) throw new RangeError(`${env.id} terminated: episodic envs are not supported here`);
      return out.reward;
    },
  };
}

/** `count` initial states of the env (from `seed`): the fixed evaluation set every method is judged on. */
export function evaluationStarts(
  env: ControlEnv,
  params: EnvParams,
  count: number,
  seed: number,
): Float64Array[] {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: count }, () => {
    const s = new Float64Array(env.stateSize);
    env.reset(params, s, rng);
    return s;
  });
}

/**
 * Mean undiscounted return of the *deterministic* controller (u₀*, no exploration) from each start for
 * `steps` steps on the env — evaluation only, never counted as real data. `theta` null: zero action.
 */
export function controllerReturn(
  controller: DifferentiableController,
  env: ControlEnv,
  params: EnvParams,
  theta: Float64Array | null,
  starts: readonly Float64Array[],
  steps: number,
): number {
  const s = new Float64Array(env.stateSize);
  const u = new Float64Array(controller.actionSize);
  const out: StepResult = { reward: 0, terminated: false };
  const rng = Rng.fromSeed(0); // the pendulum's step draws nothing; kept for the contract
  let total = 0;
  for (const s0 of starts) {
    s.set(s0);
    controller.reset();
    for (let t = 0; t < steps; t++) {
      if (theta) controller.act(theta, s, u);
      else u.fill(0);
      env.step(params, s, u, rng, out);
      total += out.reward;
    }
  }
  controller.reset();
  return total / starts.length;
}

/** Physical parameters of the pendulum model (models.ts PendulumDynamics: p = (mass, length, damping)). */
export interface PendulumFit {
  mass: number;
  length: number;
  damping: number;
}

/**
 * System identification of the pendulum model by least squares on real transitions. The model
 *   ω′ = ω + dt·(3g/(2l) sin ϑ + 3/(m l²)(gain·u − b ω))
 * is linear in c = (3g/(2l), 3/(m l²), 3b/(m l²)): regress (ω′ − ω)/dt on (sin ϑ, gain·u, −ω) (least squares
 * on the one-step velocity prediction; ϑ′ = ϑ + dt ω′ carries no further information), with a ridge ρ
 * pulling c towards the prior's, then l = 3g/(2c₁), m = 3/(c₂l²), b = c₃/c₂. Transitions that hit the
 * env's speed clip |ω′| = maxSpeed are left out (the model has no clip). u is the torque the real system
 * received (the clipped sample).
 */
export function fitPendulum(
  batches: readonly RealBatch[],
  fixed: { g: number; dt: number; gain: number; maxSpeed: number },
  prior: PendulumFit,
  ridge: number,
): PendulumFit {
  const { g, dt, gain, maxSpeed } = fixed;
  const c0 = [
    (3 * g) / (2 * prior.length),
    3 / (prior.mass * prior.length ** 2),
    (3 * prior.damping) / (prior.mass * prior.length ** 2),
  ];
  const XtX = new Float64Array(9);
  const Xty = new Float64Array(3);
  for (let i = 0; i < 3; i++) {
    XtX[i * 4] += ridge;
    Xty[i] += ridge * c0[i];
  }
  const x = new Float64Array(3);
  for (const b of batches)
    for (let i = 0; i < b.N; i++)
      for (let t = 0; t < b.H; t++) {
        const k = i * (b.H + 1) + t;
        const w = b.states[k * 2 + 1];
        const w2 = b.states[(k + 1) * 2 + 1];
        if (Math.abs(w2) >= maxSpeed) continue;
        x[0] = Math.sin(b.states[k * 2]);
        x[1] = gain * b.applied[k];
        x[2] = -w;
        const y = (w2 - w) / dt;
        for (let p = 0; p < 3; p++) {
          Xty[p] += x[p] * y;
          for (let q = 0; q < 3; q++) XtX[p * 3 + q] += x[p] * x[q];
        }
      }
  const c = new Lu(XtX, 3).solve(Xty);
  if (!(c[0] > 0 && c[1] > 0)) return { ...prior };
  const length = (3 * g) / (2 * c[0]);
  const mass = 3 / (c[1] * length * length);
  return { mass, length, damping: c[2] / c[1] };
}

// ───────────────────────────── pendulum sysid loop ─────────────────────────────

export const PendulumSysIdSchema = z.object({
  budget: z.number().int().positive().default(2000).describe("Real transitions to consume in total"),
  batchEpisodes: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("Real episodes (of realHorizon steps) per refit"),
  realHorizon: z.number().int().positive().default(200).describe("Steps per real episode"),
  sigma: z
    .number()
    .nonnegative()
    .default(0.3)
    .describe("Exploration std of the data-collecting MPC (a = clip(u₀* + σε))"),
  ridge: z
    .number()
    .nonnegative()
    .default(1)
    .describe(
      "Ridge ρ pulling the regression coefficients (3g/2l, 3/ml², 3b/ml²) towards the nominal model's (≈ ρ/E[x²] transitions of prior)",
    ),
});
export type PendulumSysIdConfig = z.infer<typeof PendulumSysIdSchema>;

/**
 * Iterated system identification of the pendulum MPC's model (mass, length, damping): act on the real
 * pendulum with the MPC of the current fit (plus exploration), refit on every transition so far
 * (`fitPendulum`), repeat; the cost weights stay nominal. Iteration 0 is the nominal model.
 */
export function runPendulumSysId(
  controller: DifferentiableController,
  real: StepRealSystem,
  theta0: Float64Array,
  fixed: { g: number; dt: number; gain: number; maxSpeed: number },
  config: PendulumSysIdConfig,
  rng: Rng,
  evaluate: (theta: Float64Array) => number,
  onEval?: EvalCallback,
): MethodRun {
  const idx = (name: string) => controller.thetaNames.indexOf(`model/${name}`);
  const cols = { mass: idx("mass"), length: idx("length"), damping: idx("damping") };
  if (cols.mass < 0 || cols.length < 0 || cols.damping < 0)
    throw new InputError("system identification needs the model group tuned (tune: all or model)", "tune");
  const prior: PendulumFit = {
    mass: theta0[cols.mass],
    length: theta0[cols.length],
    damping: theta0[cols.damping],
  };
  const counted = new CountedRealSystem(real);
  const rngs = { real: rng.split(), explore: rng.split() };
  const theta = Float64Array.from(theta0);
  const batches: RealBatch[] = [];
  const points: EvalPoint[] = [];
  for (let it = 0; ; it++) {
    const point: EvalPoint = {
      iteration: it,
      realTransitions: counted.transitionsUsed,
      normalized: evaluate(theta),
      theta: Float64Array.from(theta),
    };
    points.push(point);
    onEval?.(point);
    const left = config.budget - counted.transitionsUsed;
    if (left <= 0) break;
    const episodes = Math.max(1, Math.min(config.batchEpisodes, Math.floor(left / config.realHorizon)));
    const H = Math.min(config.realHorizon, left);
    batches.push(collectBatch(controller, counted, theta, episodes, H, config.sigma, false, rngs, false));
    const fit = fitPendulum(batches, fixed, prior, config.ridge);
    theta[cols.mass] = fit.mass;
    theta[cols.length] = fit.length;
    theta[cols.damping] = fit.damping;
  }
  return { points, theta };
}

// ───────────────────────────── benchmarks ─────────────────────────────

type Plain = Record<string, unknown>;
const configurable = <S extends z.ZodType>(m: {
  name: string;
  schema: S;
  /** Built-in settings (a config file's fields are deep-merged over them, then parsed). */
  defaults: Plain;
  derived?: Record<string, DerivedField<z.infer<S>>>;
  build: (config: z.infer<S>) => MethodSpec;
}): BenchmarkMethod => m as unknown as BenchmarkMethod;

const budgetField = z
  .number()
  .int()
  .positive()
  .describe(
    "Real transitions the method may use; sets iterations = floor(budget / (realTrajectories × realHorizon))",
  );

/** Iterations that fit in a budget (at least 1). */
const iterationsFor = (c: { budget: number; realTrajectories: number; realHorizon: number }) =>
  Math.max(1, Math.floor(c.budget / (c.realTrajectories * c.realHorizon)));

/** `iterations` of a tuned method: set by the budget (the exact-gradient oracle uses none and keeps its own). */
const iterationsField: DerivedField<{
  budget: number;
  realTrajectories: number;
  realHorizon: number;
  gradient: string;
  iterations: number;
}> = {
  note: "derived: floor(budget / (realTrajectories × realHorizon)); set budget instead",
  value: (c) => (c.gradient === "exact" ? c.iterations : iterationsFor(c)),
};

// mpc-continuous ------------------------------------------------------------------------------------

/** LQ-MPC settings of mpc-continuous (the model and weights come from the seed's θ₀). */
export const ContinuousMpcSchema = LqMpcConfigSchema.pick({ horizon: true, tune: true }).extend({
  horizon: z
    .number()
    .int()
    .positive()
    .default(5)
    .describe("MPC horizon N (short: the terminal weight matters)"),
});

/** θ₀ of seed k: (A, B, Q, R, P) ~ U(0, 1)⁵ from the seed's first split (A, B, Q, R as paper-continuous's). */
export function continuousStart(seed: number): Float64Array {
  const init = Rng.fromSeed(seed).split();
  return Float64Array.from({ length: 5 }, () => init.uniform());
}

/** The seed's LQ MPC: nominal (A, B, Q, R, P) = θ₀, weights log-parameterised, unbounded controls. */
export function continuousController(
  problem: LinearGaussianProblem,
  u: ArrayLike<number>,
  config: z.input<typeof ContinuousMpcSchema> = {},
): LqMpcController {
  const c = ContinuousMpcSchema.parse(config);
  return new LqMpcController({ A: [u[0]], B: [u[1]], Q: [u[2]], R: [u[3]], P: [u[4]] }, problem.gamma, {
    horizon: c.horizon,
    tune: c.tune,
    weights: "log",
  });
}

/** Bounds of the mpc-continuous θ: model free, log-weights in [−20, 20]. */
function continuousBounds(controller: DifferentiableController) {
  const weight = (i: number) => !controller.thetaNames[i].startsWith("model/");
  return {
    lower: Array.from({ length: controller.nTheta }, (_, i) => (weight(i) ? -20 : Number.NEGATIVE_INFINITY)),
    upper: Array.from({ length: controller.nTheta }, (_, i) => (weight(i) ? 20 : Number.POSITIVE_INFINITY)),
  };
}

const ContinuousOuterSchema = MpcOuterConfigSchema.extend({
  budget: budgetField,
  mpc: ContinuousMpcSchema.prefault({}),
});

/** The outer level on mpc-continuous: θ₀ from the seed, the exact normalised return as the judge. */
function continuousOuter(name: string, sigma: number, defaults: Plain): BenchmarkMethod {
  const problem = withExploration(paperContinuousProblem(), sigma);
  return configurable({
    name,
    schema: ContinuousOuterSchema,
    defaults: { gamma: problem.gamma, sigma, ...defaults },
    derived: { iterations: iterationsField },
    build: (c) => {
      const { budget: _, mpc, ...config } = c;
      const judge = withExploration(paperContinuousProblem(), config.sigma);
      const optimum = realOptimum(judge);
      return {
        name,
        description:
          config.gradient === "exact"
            ? `LQ MPC (N = ${mpc.horizon}) tuned by exact real gradients (oracle: no real data), step ${config.stepSize}`
            : `LQ MPC (N = ${mpc.horizon}) tuned by ${config.gradient === "dpg" ? `DPG with a ${config.critic.features} LSTD(${config.critic.lambda}) critic` : "score-function gradients with a cross-fitted critic baseline"} from ${config.realTrajectories}×${config.realHorizon} real steps per iteration, σ = ${config.sigma}, ${config.optimizer} step ${config.stepSize}/(1 + t/${config.stepDecay}), suffix average ${config.average}; tunes ${mpc.tune}`,
        run: (seed, onEval) => {
          const u = continuousStart(seed);
          const controller = continuousController(judge, u, mpc);
          const rng = Rng.fromSeed(seed);
          rng.split(); // the first split made θ₀
          return runMpcOuter(controller, linearGaussianStepSystem(judge), controller.theta0, config, rng, {
            ...continuousBounds(controller),
            onEval,
            evaluate: (th) => exactLinearReturn(judge, controller, th).J / optimum.J,
            exactGradient: (th) => exactLinearReturn(judge, controller, th, "gradient").grad,
          });
        },
      };
    },
  });
}

const ContinuousSysIdSchema = SysIdConfigSchema.pick({
  budget: true,
  batchTrajectories: true,
  batchHorizon: true,
  ridge: true,
}).extend({ mpc: ContinuousMpcSchema.prefault({}) });

/**
 * System identification for the LQ MPC: ridge least squares of (A, B) on real transitions and of the
 * reward's exponent (−log r/λ = q s² + r a²) for (Q, R) (src/outer/system-identification.ts), then the
 * standard MPC design on the fit — terminal weight P = the discounted Riccati solution of the fitted
 * (A, B, Q, R), which makes the N-step MPC equal to the fit's LQR.
 */
function continuousSysId(sigma: number): BenchmarkMethod {
  const problem = withExploration(paperContinuousProblem(), sigma);
  return configurable({
    name: "sysid",
    schema: ContinuousSysIdSchema,
    defaults: {},
    build: (c) => {
      const { mpc, ...sysid } = c;
      const optimum = realOptimum(problem);
      const cfg = SysIdConfigSchema.parse({ ...sysid, inner: "lqr", reward: "fitted" });
      return {
        name: "sysid",
        description: `system identification of (A, B, Q, R) by ridge least squares (${cfg.batchTrajectories}×${cfg.batchHorizon} real steps per refit, prior = the seed's θ₀), then the LQ MPC (N = ${mpc.horizon}) with terminal weight = the fit's discounted Riccati P`,
        run: (seed) => {
          const u = continuousStart(seed);
          const prior = { ...problem, simulator: paramsFromTheta(1, 1, u.subarray(0, 4), problem.simulator) };
          const run = runSysIdLinear(prior, cfg, Rng.fromSeed(seed), undefined, optimum);
          const controller = continuousController(problem, u, mpc);
          let last = controller.theta0;
          const points = run.points.map((p) => {
            last = sysidMpcTheta(problem, controller, p.theta) ?? last;
            return {
              ...p,
              theta: last,
              normalized: exactLinearReturn(problem, controller, last).J / optimum.J,
            };
          });
          return { points, theta: last };
        },
      };
    },
  });
}

/** The LQ MPC's θ for a fitted (A, B, Q, R): log weights and P = the fit's Riccati solution (null when the
 * fit has none). */
export function sysidMpcTheta(
  problem: LinearGaussianProblem,
  controller: DifferentiableController,
  fit: ArrayLike<number>,
): Float64Array | null {
  const p = paramsFromTheta(1, 1, fit, problem.simulator);
  let P: number;
  try {
    P = discountedLqr(1, 1, problem.gamma, p).P[0];
  } catch (e) {
    if (e instanceof InnerSolveError) return null;
    throw e;
  }
  const values: Record<string, number> = {
    "model/A[0,0]": p.A[0],
    "model/B[0,0]": p.B[0],
    "cost/log Q[0]": Math.log(p.Q[0]),
    "cost/log R[0]": Math.log(p.R[0]),
    "terminal/log P[0]": Math.log(P),
  };
  return Float64Array.from(controller.thetaNames, (n) => {
    if (!(n in values)) throw new InputError(`sysid: unexpected θ entry ${n}`, "mpc.tune");
    return values[n];
  });
}

const ContinuousLqrBilevelSchema = LinearBilevelConfigSchema.omit({ inner: true, iterations: true }).extend({
  budget: budgetField,
});

/** The continuous issue's bi-level method with the infinite-horizon LQR inner solver, from the same θ₀. */
function continuousLqrBilevel(sigma: number): BenchmarkMethod {
  const problem = withExploration(paperContinuousProblem(), sigma);
  return configurable({
    name: "lqr-bilevel",
    schema: ContinuousLqrBilevelSchema,
    defaults: { realGradient: "sampled", stepDecay: 20, budget: 400_000 },
    build: (c) => {
      const { budget, ...rest } = c;
      const cfg = { ...rest, inner: "lqr" as const, iterations: iterationsFor({ budget, ...rest }) };
      const optimum = realOptimum(problem);
      return {
        name: "lqr-bilevel",
        description: `bi-level SPG with the infinite-horizon LQR inner solver (paper-continuous-lqr's method: REINFORCE ${cfg.realTrajectories}×${cfg.realHorizon} real per iteration, step ${cfg.stepSize}/(1 + t/${cfg.stepDecay})) from the same (A, B, Q, R)`,
        run: (seed) => {
          const rng = Rng.fromSeed(seed);
          rng.split();
          const run = runLinearBilevel(
            problem,
            continuousStart(seed).subarray(0, 4),
            cfg,
            rng,
            undefined,
            optimum,
          );
          return {
            theta: run.theta,
            points: run.records.map((r) => ({
              iteration: r.iteration,
              realTransitions: r.realTransitions,
              normalized: r.normalized,
              theta: r.theta,
            })),
          };
        },
      };
    },
  });
}

/** Settings of the tuned mpc-continuous methods (measured: see docs/results/mpc/README.md). */
export const CONTINUOUS_OUTER_DEFAULTS: Plain = {
  realTrajectories: 160,
  realHorizon: 50,
  stepSize: 0.1,
  stepDecay: 10,
  average: 0.5,
  budget: 400_000,
};

// mpc-pendulum --------------------------------------------------------------------------------------

/** The real pendulum: Pendulum-v1 with its default mass and the SGFT friction of coefficient c. */
export function realPendulum(friction: number): { env: ControlEnv; params: EnvParams } {
  const env = makeEnv("pendulum", [sgftFriction(friction)]);
  return { env, params: resolveParams(env) };
}

/** The MPC of mpc-pendulum: the model's mass is wrong (×1.3) and it has no friction. */
export const PENDULUM_NOMINAL = { mass: 1.3, length: 1, damping: 0 } as const;
/** Friction of the real pendulum (SGFT §5 term; see docs/results/mpc/README.md for why not 1). */
export const PENDULUM_FRICTION = 0.5;
export const PENDULUM_EVAL = { episodes: 20, seed: 12345, steps: 200 } as const;

const PendulumMpcSettings = PendulumMpcConfigSchema.omit({ model: true, fixed: true, maxTorque: true });

export function pendulumSetup(mpc: z.input<typeof PendulumMpcSettings>) {
  const { env, params } = realPendulum(PENDULUM_FRICTION);
  const controller = pendulumMpc({ ...PendulumMpcSettings.parse(mpc), model: { ...PENDULUM_NOMINAL } });
  const starts = evaluationStarts(env, params, PENDULUM_EVAL.episodes, PENDULUM_EVAL.seed);
  const zero = controllerReturn(controller, env, params, null, starts, PENDULUM_EVAL.steps);
  // Normalised: the fraction of the zero-torque cost removed, 1 − J/J_zero (0 = doing nothing).
  const evaluate = (th: Float64Array) =>
    1 - controllerReturn(controller, env, params, th, starts, PENDULUM_EVAL.steps) / zero;
  const fixed = {
    g: params.g,
    dt: params.dt,
    gain: params.gain,
    maxSpeed: params.maxSpeed,
  };
  return { env, params, controller, starts, zero, evaluate, fixed, real: controlEnvStepSystem(env, params) };
}

/** The pendulum's bounds on θ: mass ∈ [0.2, 5], length ∈ [0.3, 3], damping ∈ [−1, 5], log weights ∈ [−12, 6]. */
function pendulumBounds(controller: DifferentiableController) {
  const box: Record<string, [number, number]> = {
    "model/mass": [0.2, 5],
    "model/length": [0.3, 3],
    "model/damping": [-1, 5],
  };
  const b = controller.thetaNames.map((n) => box[n] ?? [-12, 6]);
  return { lower: b.map((v) => v[0]), upper: b.map((v) => v[1]) };
}

/** Features of V on the pendulum state (ϑ, ω): (1, cos ϑ, sin ϑ, cos 2ϑ, sin 2ϑ) ⊗ (1, ω, ω²). */
export const pendulumStateFeatures: StateFeatures = {
  size: 15,
  features(s, sOff, out, off) {
    const th = s[sOff];
    const w = s[sOff + 1];
    const trig = [1, Math.cos(th), Math.sin(th), Math.cos(2 * th), Math.sin(2 * th)];
    let f = off;
    for (const c of trig) {
      out[f++] = c;
      out[f++] = c * w;
      out[f++] = c * w * w;
    }
  },
};

const PendulumOuterSchema = MpcOuterConfigSchema.extend({
  budget: budgetField,
  mpc: PendulumMpcSettings.prefault({}),
});

/** Settings of the tuned mpc-pendulum methods (measured: see docs/results/mpc/README.md). */
export const PENDULUM_OUTER_DEFAULTS: Plain = {
  gamma: 0.98,
  sigma: 0.3,
  realTrajectories: 4,
  realHorizon: 200,
  bootstrap: false,
  critic: { stateFeatures: "env", lambda: 0.8 },
  optimizer: "adam-norm",
  stepSize: 0.1,
  budget: 40_000,
  evalEvery: 5,
};

function pendulumOuter(name: string, defaults: Plain): BenchmarkMethod {
  return configurable({
    name,
    schema: PendulumOuterSchema,
    defaults: { ...PENDULUM_OUTER_DEFAULTS, ...defaults },
    derived: { iterations: iterationsField },
    build: (c) => {
      const { budget: _, mpc, ...config } = c;
      return {
        name,
        description: `DDP-MPC (N = ${PendulumMpcSettings.parse(mpc).horizon}) tuned (${PendulumMpcSettings.parse(mpc).tune}) by ${config.gradient === "dpg" ? `DPG with a ${config.critic.features} LSTD(${config.critic.lambda}) critic` : "score-function gradients with a cross-fitted critic baseline"}: ${config.realTrajectories} real episodes of ${config.realHorizon} steps per iteration, σ = ${config.sigma}, γ = ${config.gamma}, ${config.optimizer} step ${config.stepSize}`,
        run: (seed, onEval) => {
          const setup = pendulumSetup(mpc);
          const rng = Rng.fromSeed(seed);
          return runMpcOuter(setup.controller, setup.real, setup.controller.theta0, config, rng, {
            ...pendulumBounds(setup.controller),
            evaluate: setup.evaluate,
            stateFeatures: pendulumStateFeatures,
            onEval,
          });
        },
      };
    },
  });
}

const PendulumSysIdMethodSchema = PendulumSysIdSchema.extend({ mpc: PendulumMpcSettings.prefault({}) });

function pendulumSysIdMethod(): BenchmarkMethod {
  return configurable({
    name: "sysid",
    schema: PendulumSysIdMethodSchema,
    defaults: {},
    build: (c) => {
      const { mpc, ...cfg } = c;
      return {
        name: "sysid",
        description: `system identification of the model's (mass, length, damping) by least squares on the velocity step (${cfg.batchEpisodes} real episode(s) of ${cfg.realHorizon} steps per refit, σ = ${cfg.sigma}), nominal cost weights`,
        run: (seed, onEval) => {
          const setup = pendulumSetup(mpc);
          const c0 = setup.controller;
          return runPendulumSysId(
            c0,
            setup.real,
            c0.theta0,
            setup.fixed,
            cfg,
            Rng.fromSeed(seed),
            setup.evaluate,
            onEval,
          );
        },
      };
    },
  });
}

function pendulumUntuned(): BenchmarkMethod {
  return configurable({
    name: "untuned",
    schema: z.object({ mpc: PendulumMpcSettings.prefault({}) }),
    defaults: {},
    build: (c) => ({
      name: "untuned",
      description: `the nominal DDP-MPC (model mass ${PENDULUM_NOMINAL.mass}, no friction; nominal cost), no real data`,
      run: (): MethodRun => {
        const setup = pendulumSetup(c.mpc);
        const th = setup.controller.theta0;
        return {
          theta: th,
          points: [{ iteration: 0, realTransitions: 0, normalized: setup.evaluate(th), theta: th }],
        };
      },
    }),
  });
}

export const MPC_BENCHMARKS: Omit<Benchmark, "methods">[] = [
  {
    name: "mpc-continuous",
    description:
      "Bi-level paper §5 continuous example controlled by an N-step LQ MPC on the quadratic surrogate (issue 9): MPC model and cost tuned on real returns",
    misspecified: true,
    why: "The MPC minimises a quadratic cost while the real reward is exp(−λ(s² + a²)): the accurate model with the surrogate cost gives the LQR gain 0.588 (0.948 normalised). Only an inaccurate (model, cost) makes the MPC return K*_real.",
    configurable: () => {
      const sigma = Math.sqrt(paperContinuousProblem().policyCov[0]);
      const problem = withExploration(paperContinuousProblem(), sigma);
      const optimum = realOptimum(problem);
      return [
        continuousUntuned(problem, optimum),
        continuousSysId(sigma),
        continuousOuter("mpc-dpg", sigma, { gradient: "dpg", ...CONTINUOUS_OUTER_DEFAULTS }),
        continuousOuter("mpc-score", sigma, { gradient: "score", ...CONTINUOUS_OUTER_DEFAULTS }),
        continuousOuter("mpc-exact", sigma, { gradient: "exact", iterations: 200, stepSize: 0.1, budget: 1 }),
        continuousLqrBilevel(sigma),
      ];
    },
  },
  {
    name: "mpc-pendulum",
    description: `Pendulum swing-up by a DDP-MPC whose model has mass ×${PENDULUM_NOMINAL.mass} and no friction; the real pendulum has the SGFT §5 friction (c = ${PENDULUM_FRICTION}) (issue 9)`,
    misspecified: true,
    why: "The model class (mass, length, viscous damping) cannot express the SGFT friction −c[(1 + sin²ϑ)ω + ½tanh(ω/0.1)], and the MPC's short horizon with the env's cost is a poor swing-up policy whatever the model: what matters is the closed-loop real return, not the fit.",
    configurable: () => [
      pendulumUntuned(),
      pendulumSysIdMethod(),
      pendulumOuter("mpc-dpg", { gradient: "dpg" }),
      pendulumOuter("mpc-score", { gradient: "score" }),
    ],
  },
];

/** The untuned LQ MPC of mpc-continuous: per seed, θ₀ itself. */
function continuousUntuned(problem: LinearGaussianProblem, optimum: { J: number }): BenchmarkMethod {
  return configurable({
    name: "untuned",
    schema: z.object({ mpc: ContinuousMpcSchema.prefault({}) }),
    defaults: {},
    build: (c) => ({
      name: "untuned",
      description: `the seed's LQ MPC (N = ${c.mpc.horizon}) at θ₀ = (A, B, Q, R, P) ~ U(0, 1)⁵, no real data`,
      run: (seed): MethodRun => {
        const controller = continuousController(problem, continuousStart(seed), c.mpc);
        const th = controller.theta0;
        const normalized = exactLinearReturn(problem, controller, th).J / optimum.J;
        return { theta: th, points: [{ iteration: 0, realTransitions: 0, normalized, theta: th }] };
      },
    }),
  });
}
