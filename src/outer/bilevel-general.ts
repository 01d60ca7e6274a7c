/**
 * Algorithm 1 of the bi-level paper for any differentiable policy and parametric model (issue 4): at each
 * outer iteration
 *   1. inner: entropy-regularised actor-critic in the simulator at θ, warm-started from the previous
 *      policy and critic, until its policy gradient is near zero (‖φ̂‖ reported);
 *   2. real: REINFORCE ∂J_real/∂φ from a few real trajectories (the sim critic as baseline);
 *   3. sensitivity: sampled Theorem 1 (sensitivity/sampled.ts) and one damped Krylov solve,
 *      g = (dφ/dθ)ᵀ ∂J_real/∂φ  (9b);
 *   4. θ ← θ + α g  (9a), projected onto the lower bounds.
 * The core never prints or writes: metrics go through `onMetrics` with grouped keys.
 */
import { z } from "zod";
import type { ParametricModel } from "../envs/parametric-model.ts";
import {
  ActorCriticConfigSchema,
  type InitialStateSampler,
  trainActorCritic,
} from "../inner/actor-critic.ts";
import { norm } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import type { DifferentiablePolicy } from "../policies/policy.ts";
import {
  SampledTheorem1,
  SampledTheorem1ConfigSchema,
  sampledOuterGradient,
  sampleSegments,
  type ValueFunction,
} from "../sensitivity/sampled.ts";
import { AscentSchema, makeAscent, projectLower } from "./ascent.ts";
import type { MetricsCallback } from "./bilevel.ts";

export const GeneralBilevelConfigSchema = z.object({
  inner: ActorCriticConfigSchema.omit({ initPhi: true, initCritic: true })
    .prefault({})
    .describe("Actor-critic in simulation (warm-started across outer iterations)"),
  firstInnerIterations: z
    .number()
    .int()
    .positive()
    .default(2000)
    .describe(
      "Actor updates allowed for the first inner solve (from scratch); later ones use inner.maxIterations",
    ),
  sensitivity: SampledTheorem1ConfigSchema.prefault({}).describe("Sampled Theorem 1 and its Krylov solve"),
  realTrajectories: z.number().int().positive().default(20).describe("Real trajectories per outer iteration"),
  realHorizon: z.number().int().positive().default(50).describe("Steps per real trajectory"),
  ...AscentSchema,
  maxStep: z
    .number()
    .positive()
    .optional()
    .describe("Trust region: an outer step longer than this (Euclidean, in θ) is scaled down to it"),
  iterations: z.number().int().nonnegative().default(200).describe("Outer iterations"),
  evalEvery: z.number().int().positive().default(5).describe("Evaluate the real return every k iterations"),
});
export type GeneralBilevelConfig = z.infer<typeof GeneralBilevelConfigSchema>;
export type GeneralBilevelConfigInput = z.input<typeof GeneralBilevelConfigSchema>;

/** Real-system trajectories: N × H, row-major (obs N·H × obsSize, actions N·H × actionSize). */
export interface RealBatch {
  N: number;
  H: number;
  obs: Float64Array;
  actions: Float64Array;
  rewards: Float64Array;
}

/** The real system: only rollouts, every transition counted. */
export interface RealSystem {
  transitionsUsed: number;
  rollout(policy: DifferentiablePolicy, phi: Float64Array, N: number, H: number, rng: Rng): RealBatch;
}

/**
 * N trajectories of H steps of `policy` on `model` at parameters θ, all N advanced together (one policy
 * call per time step).
 */
export function rolloutModel(
  model: ParametricModel,
  theta: ArrayLike<number>,
  initialState: InitialStateSampler,
  policy: DifferentiablePolicy,
  phi: Float64Array,
  N: number,
  H: number,
  rng: Rng,
): RealBatch {
  const dS = model.obsSize;
  const dA = model.actionSize;
  const obs = new Float64Array(N * H * dS);
  const actions = new Float64Array(N * H * dA);
  const rewards = new Float64Array(N * H);
  const cur = new Float64Array(N * dS);
  const a = new Float64Array(N * dA);
  for (let i = 0; i < N; i++) cur.set(initialState(rng), i * dS);
  for (let t = 0; t < H; t++) {
    policy.sample(phi, cur, N, rng, a);
    for (let i = 0; i < N; i++) {
      const row = i * H + t;
      const s = cur.subarray(i * dS, (i + 1) * dS);
      const ai = a.subarray(i * dA, (i + 1) * dA);
      obs.set(s, row * dS);
      actions.set(ai, row * dA);
      rewards[row] = model.reward(theta, s, ai);
      cur.set(model.sampleNext(theta, s, ai, rng), i * dS);
    }
  }
  return { N, H, obs, actions, rewards };
}

/** A real system simulated by a parametric model at hidden parameters (benchmarks and tests). */
export class ModelRealSystem implements RealSystem {
  transitionsUsed = 0;
  constructor(
    private readonly model: ParametricModel,
    private readonly thetaReal: ArrayLike<number>,
    private readonly initialState: InitialStateSampler,
  ) {}

  rollout(policy: DifferentiablePolicy, phi: Float64Array, N: number, H: number, rng: Rng): RealBatch {
    this.transitionsUsed += N * H;
    return rolloutModel(this.model, this.thetaReal, this.initialState, policy, phi, N, H, rng);
  }
}

/**
 * REINFORCE ∂J/∂φ = (1/N) Σ_i Σ_t γ^t ∇log π(a_t|s_t) (G_t − b(s_t)), G_t the discounted reward-to-go
 * within the trajectory; any fixed b keeps it unbiased (up to the horizon cut), and the simulator's
 * critic is a good one.
 */
export function reinforcePolicyGradient(
  policy: DifferentiablePolicy,
  phi: Float64Array,
  batch: RealBatch,
  gamma: number,
  baseline?: ValueFunction,
): Float64Array {
  const { N, H } = batch;
  const T = N * H;
  const b = new Float64Array(T);
  if (baseline) baseline(batch.obs, T, b);
  const w = new Float64Array(T);
  for (let i = 0; i < N; i++) {
    let G = 0;
    for (let t = H - 1; t >= 0; t--) {
      const k = i * H + t;
      G = batch.rewards[k] + gamma * G;
      w[k] = gamma ** t * (G - b[k]);
    }
  }
  const g = new Float64Array(policy.nParams);
  policy.scoreSum(phi, batch.obs, batch.actions, T, w, g);
  for (let i = 0; i < g.length; i++) g[i] /= N;
  return g;
}

export interface GeneralBilevelProblem {
  model: ParametricModel;
  policy: DifferentiablePolicy;
  initialState: InitialStateSampler;
  real: RealSystem;
  /** Lower bounds of θ (projection after each step); absent: unbounded. */
  lower?: ArrayLike<number>;
  /** Evaluation only (never counted as real data): normalised real return of φ. */
  evaluate?: (phi: Float64Array) => number;
}

export interface GeneralIterationRecord {
  iteration: number;
  theta: Float64Array;
  /** Normalised real return (NaN on iterations that were not evaluated). */
  normalized: number;
  realTransitions: number;
  gradNorm: number;
  innerIterations: number;
  innerGradNorm: number;
  krylovIterations: number;
  krylovResidual: number;
  firstOrderCosine: number;
  /** Halvings of the previous step needed before the inner solve was finite. */
  backtracks: number;
  seconds: number;
}

export interface GeneralBilevelRun {
  records: GeneralIterationRecord[];
  theta: Float64Array;
  phi: Float64Array;
}

/**
 * Step 3's operators at (θ, φ): fresh in-sim segments under π_φ, then the sampled Theorem-1 operators
 * with the loop's sensitivity settings and the inner solver's critic.
 */
export function theorem1At(
  problem: Pick<GeneralBilevelProblem, "model" | "policy" | "initialState">,
  cfg: GeneralBilevelConfig,
  theta: ArrayLike<number>,
  phi: Float64Array,
  value: ValueFunction,
  rng: Rng,
): SampledTheorem1 {
  const { model, policy, initialState } = problem;
  const gamma = cfg.inner.gamma;
  const sens = cfg.sensitivity;
  const sim = sampleSegments(model, policy, phi, theta, initialState, gamma, sens.samples, rng, sens.walkers);
  return new SampledTheorem1(
    model,
    policy,
    phi,
    theta,
    sim,
    value,
    { ...sens, gamma, temperature: cfg.inner.temperature, states: cfg.inner.critic.states },
    rng,
  );
}

export function runGeneralBilevel(
  problem: GeneralBilevelProblem,
  theta0: ArrayLike<number>,
  phi0: Float64Array,
  config: GeneralBilevelConfigInput,
  rng: Rng,
  onMetrics?: MetricsCallback,
): GeneralBilevelRun {
  const cfg = GeneralBilevelConfigSchema.parse(config);
  const { model, policy, initialState, real } = problem;
  const gamma = cfg.inner.gamma;
  const theta = Float64Array.from(theta0);
  if (theta.length !== model.nTheta)
    throw new RangeError(`theta0: expected ${model.nTheta} entries, got ${theta.length}`);
  const realRng = rng.split();
  const step = makeAscent(cfg.optimizer, cfg.stepSize, cfg.stepDecay, theta);
  let phi: Float64Array = Float64Array.from(phi0);
  let criticParams: Float64Array | undefined;
  const records: GeneralIterationRecord[] = [];
  let prevTheta: Float64Array | null = null;
  let backtracks = 0;
  for (let it = 0; ; it++) {
    const t0 = performance.now();
    const solveInner = () =>
      trainActorCritic(
        model,
        policy,
        theta,
        initialState,
        {
          ...cfg.inner,
          maxIterations: it === 0 ? cfg.firstInnerIterations : cfg.inner.maxIterations,
          initPhi: phi,
          initCritic: criticParams,
        },
        rng,
      );
    // A step into a region where the simulator diverges (non-finite returns, gradients) is halved
    // back towards the previous θ until the inner solve is finite again.
    let inner: ReturnType<typeof trainActorCritic>;
    const proposed = Float64Array.from(theta);
    backtracks = 0;
    for (;;) {
      try {
        inner = solveInner();
        if (inner.phi.every(Number.isFinite)) break;
        throw new RangeError("non-finite policy parameters");
      } catch (e) {
        if (!(e instanceof RangeError) || prevTheta === null || backtracks >= 20) throw e;
        backtracks++;
        const f = 0.5 ** backtracks;
        for (let i = 0; i < theta.length; i++) theta[i] = prevTheta[i] + f * (proposed[i] - prevTheta[i]);
      }
    }
    phi = inner.phi;
    criticParams = inner.criticParams;
    const evaluate = problem.evaluate && (it % cfg.evalEvery === 0 || it === cfg.iterations);
    const record: GeneralIterationRecord = {
      iteration: it,
      theta: Float64Array.from(theta),
      normalized: evaluate && problem.evaluate ? problem.evaluate(phi) : Number.NaN,
      realTransitions: real.transitionsUsed,
      gradNorm: Number.NaN,
      innerIterations: inner.iterations,
      innerGradNorm: inner.gradNorm,
      krylovIterations: 0,
      krylovResidual: Number.NaN,
      firstOrderCosine: Number.NaN,
      backtracks,
      seconds: 0,
    };
    records.push(record);
    if (it === cfg.iterations) {
      record.seconds = (performance.now() - t0) / 1000;
      emit(onMetrics, record);
      break;
    }
    const batch = real.rollout(policy, phi, cfg.realTrajectories, cfg.realHorizon, realRng);
    const v = reinforcePolicyGradient(policy, phi, batch, gamma, inner.value);
    const ops = theorem1At(problem, cfg, theta, phi, inner.value, rng);
    const og = sampledOuterGradient(ops, v, cfg.sensitivity);
    if (!og.grad.every(Number.isFinite)) og.grad.fill(0);
    record.gradNorm = norm(og.grad);
    record.realTransitions = real.transitionsUsed;
    record.krylovIterations = og.solve.iterations;
    record.krylovResidual = og.solve.relativeResidual;
    record.firstOrderCosine = og.firstOrderCosine;
    record.seconds = (performance.now() - t0) / 1000;
    emit(onMetrics, record);
    prevTheta = Float64Array.from(theta);
    step(og.grad, it);
    if (cfg.maxStep !== undefined) {
      let d = 0;
      for (let i = 0; i < theta.length; i++) d += (theta[i] - prevTheta[i]) ** 2;
      const f = Math.sqrt(d) > cfg.maxStep ? cfg.maxStep / Math.sqrt(d) : 1;
      if (f < 1)
        for (let i = 0; i < theta.length; i++) theta[i] = prevTheta[i] + f * (theta[i] - prevTheta[i]);
    }
    projectLower(theta, problem.lower);
  }
  return { records, theta, phi };
}

function emit(cb: MetricsCallback | undefined, r: GeneralIterationRecord): void {
  if (!cb) return;
  const m: Record<string, number> = {
    "real/normalized": r.normalized,
    "real/transitions": r.realTransitions,
    "outer/gradNorm": r.gradNorm,
    "outer/krylovIterations": r.krylovIterations,
    "outer/krylovResidual": r.krylovResidual,
    "outer/firstOrderCosine": r.firstOrderCosine,
    "outer/seconds": r.seconds,
    "outer/backtracks": r.backtracks,
    "inner/iterations": r.innerIterations,
    "inner/gradNorm": r.innerGradNorm,
  };
  r.theta.forEach((t, i) => {
    m[`theta/${i}`] = t;
  });
  cb(r.iteration, m);
}
