/**
 * One outer iteration of the general bi-level loop (issue 4) with a 2×64 MLP policy on a 4-D
 * linear-Gaussian system: time per phase and peak memory. Standalone, so that the process's peak RSS is
 * this case's; `bench/run.ts` runs it as a child process and parses the single JSON line it prints.
 *
 * The iteration is the body of `runGeneralBilevel` (src/outer/bilevel-general.ts), unrolled to time each
 * phase, with the paper-continuous-nn settings: warm-started actor-critic (a fixed 50 actor updates,
 * gradTol 0), 200 × 40 real REINFORCE, sampled Theorem 1 on 4000 in-sim samples, one damped GMRES solve
 * (λ = 1, ≤ 50 iterations), the adam-norm θ step. Untimed first: 1500 actor updates from scratch (a run's
 * first inner solve) and one warm-up iteration (JIT, and the policy and critic the next inner solve
 * starts from).
 *
 *   npx tsx bench/outer-nn.ts [--repeats K]   (K = 5 by default; the medians over the K iterations)
 *
 * Also reports the process's CPU seconds per iteration (all threads): on a shared machine the wall time
 * of a single-threaded run can be inflated by other processes, its CPU time much less. SIM2REAL_KERNEL=ts
 * times the plain-TypeScript kernel.
 */
import {
  cholesky,
  gaussianDraw,
  type LinearGaussianProblem,
  thetaFromParams,
} from "../src/envs/linear-gaussian.ts";
import { linearGaussianModel } from "../src/envs/parametric-model.ts";
import { trainActorCritic } from "../src/inner/actor-critic.ts";
import { median } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { kernelBackend } from "../src/nn/wasm.ts";
import { makeAscent } from "../src/outer/ascent.ts";
import {
  GeneralBilevelConfigSchema,
  ModelRealSystem,
  reinforcePolicyGradient,
  theorem1At,
} from "../src/outer/bilevel-general.ts";
import { GaussianMlpPolicy } from "../src/policies/mlp-policies.ts";
import { sampledOuterGradient } from "../src/sensitivity/sampled.ts";

const arg = process.argv.indexOf("--repeats");
const repeats = arg >= 0 ? Number.parseInt(process.argv[arg + 1], 10) : 5;
if (!Number.isSafeInteger(repeats) || repeats < 1) throw new RangeError("--repeats: a positive integer");

/**
 * Two independent noisy double integrators (x₁, v₁, x₂, v₂; forces u₁, u₂), dt = 0.1, γ = 0.95, λ = 1,
 * reward exp(−λ(x₁² + 0.1 v₁² + x₂² + 0.1 v₂² + 0.1 u₁² + 0.1 u₂²)), s₀ ~ N(0, diag(1, 0.25, 1, 0.25)),
 * policy std 0.3, process noise std 0.01. The real system's forces are 10% stronger and its velocities
 * slightly coupled (0.02), so the simulator starts off.
 */
function doubleIntegrator4(): LinearGaussianProblem {
  const dt = 0.1;
  const sim = () => ({
    A: Float64Array.of(1, dt, 0, 0, 0, 1, 0, 0, 0, 0, 1, dt, 0, 0, 0, 1),
    B: Float64Array.of((dt * dt) / 2, 0, dt, 0, 0, (dt * dt) / 2, 0, dt),
    Q: Float64Array.of(1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0.1),
    R: Float64Array.of(0.1, 0, 0, 0.1),
  });
  const real = sim();
  real.A[1 * 4 + 3] = 0.02;
  real.A[3 * 4 + 1] = 0.02;
  for (let i = 0; i < real.B.length; i++) real.B[i] *= 1.1;
  const I4 = (v: number) => Float64Array.from({ length: 16 }, (_, k) => (k % 5 === 0 ? v : 0));
  return {
    n: 4,
    m: 2,
    gamma: 0.95,
    lambda: 1,
    horizon: 400,
    noiseCov: I4(1e-4),
    policyCov: Float64Array.of(0.3 ** 2, 0, 0, 0.3 ** 2),
    initialCov: Float64Array.of(1, 0, 0, 0, 0, 0.25, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0.25),
    real,
    simulator: sim(),
    // A and B free; diag Q and R ≥ 1e−3.
    lower: Float64Array.of(...Array(24).fill(Number.NEGATIVE_INFINITY), ...Array(6).fill(1e-3)),
  };
}

const problem = doubleIntegrator4();
const { n, m, gamma } = problem;
const model = linearGaussianModel(problem);
const L0 = cholesky(problem.initialCov, n);
const initialState = (r: Rng) => gaussianDraw(L0, n, r);
const real = new ModelRealSystem(model, thetaFromParams(n, m, problem.real), initialState);
const policy = new GaussianMlpPolicy(
  { sizes: [4, 64, 64, 2], activations: ["tanh", "tanh", "linear"] },
  { logStd: Math.log(0.3) },
);

// The paper-continuous-nn settings (src/experiments/nn-experiments.ts), with a fixed inner budget.
const cfg = GeneralBilevelConfigSchema.parse({
  inner: { temperature: 0, gamma, maxIterations: 50, gradTol: 0, walkers: 16, steps: 32, actorLr: 0.01 },
  sensitivity: { samples: 4000, damping: 1, maxIterations: 50 },
  realTrajectories: 200,
  realHorizon: 40,
  optimizer: "adam-norm",
  stepSize: 0.05,
});

const rng = Rng.fromSeed(0);
const realRng = rng.split();
const theta = thetaFromParams(n, m, problem.simulator);
const step = makeAscent(cfg.optimizer, cfg.stepSize, cfg.stepDecay, theta);
// As in a real run, the timed iterations start from a policy already trained in simulation (an
// untrained policy is far from stationary, −J_φ is then indefinite and the Krylov solve slows down).
const pre = trainActorCritic(
  model,
  policy,
  theta,
  initialState,
  { ...cfg.inner, maxIterations: 1500, initPhi: policy.init(rng, { outputGain: 0.1 }) },
  rng,
);
let phi = pre.phi;
let criticParams: Float64Array | undefined = pre.criticParams;

interface Timing {
  total: number;
  /** CPU seconds of the whole process (all threads) for the iteration: robust to a busy machine. */
  cpu: number;
  cpuInner: number;
  cpuKrylov: number;
  inner: number;
  real: number;
  sensitivity: number;
  krylov: number;
  krylovIterations: number;
  krylovResidual: number;
  innerIterations: number;
}

/** One outer iteration (runGeneralBilevel's loop body, evaluation off); seconds per phase. */
function outerIteration(it: number): Timing {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const inner = trainActorCritic(
    model,
    policy,
    theta,
    initialState,
    { ...cfg.inner, initPhi: phi, initCritic: criticParams },
    rng,
  );
  phi = inner.phi;
  criticParams = inner.criticParams;
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  const batch = real.rollout(policy, phi, cfg.realTrajectories, cfg.realHorizon, realRng);
  const v = reinforcePolicyGradient(policy, phi, batch, gamma, inner.value);
  const t2 = performance.now();
  const ops = theorem1At({ model, policy, initialState }, cfg, theta, phi, inner.value, rng);
  const t3 = performance.now();
  const c3 = process.cpuUsage(c0);
  const og = sampledOuterGradient(ops, v, cfg.sensitivity);
  step(og.grad, it);
  for (let i = 0; i < theta.length; i++) theta[i] = Math.max(theta[i], problem.lower[i]);
  const t4 = performance.now();
  const c = process.cpuUsage(c0);
  return {
    total: (t4 - t0) / 1000,
    cpu: (c.user + c.system) / 1e6,
    cpuInner: (c1.user + c1.system) / 1e6,
    cpuKrylov: (c.user + c.system - c3.user - c3.system) / 1e6,
    inner: (t1 - t0) / 1000,
    real: (t2 - t1) / 1000,
    sensitivity: (t3 - t2) / 1000,
    krylov: (t4 - t3) / 1000,
    krylovIterations: og.solve.iterations,
    krylovResidual: og.solve.relativeResidual,
    innerIterations: inner.iterations,
  };
}

outerIteration(0); // warm-up: JIT, and the policy and critic the timed inner solves start from
const runs: Timing[] = [];
for (let it = 1; it <= repeats; it++) runs.push(outerIteration(it));
const med = (k: keyof Timing) => median(runs.map((r) => r[k]));

console.log(
  JSON.stringify({
    nParams: policy.nParams,
    nTheta: model.nTheta,
    repeats,
    kernel: kernelBackend(),
    medianSeconds: med("total"),
    medianCpuSeconds: med("cpu"),
    phasesCpuSeconds: { inner: med("cpuInner"), krylov: med("cpuKrylov") },
    phasesSeconds: {
      inner: med("inner"),
      real: med("real"),
      sensitivity: med("sensitivity"),
      krylov: med("krylov"),
    },
    krylovIterations: med("krylovIterations"),
    krylovResidual: med("krylovResidual"),
    innerIterations: med("innerIterations"),
    secondsPerIteration: runs.map((r) => r.total),
    cpuSecondsPerIteration: runs.map((r) => r.cpu),
    maxRssKiB: process.resourceUsage().maxRSS,
    heapUsedBytes: process.memoryUsage().heapUsed,
  }),
);
