/**
 * Proximal policy optimisation (Schulman et al. 2017) for continuous actions, as in CleanRL's
 * ppo_continuous_action: a Gaussian MLP policy a ~ N(μ_φ(s), diag σ²) with a learned state-independent
 * log-std (src/policies/mlp-policies.ts GaussianMlpPolicy), a separate MLP critic V_w(s), GAE(λ)
 * advantages, the clipped surrogate, minibatch epochs, global-norm gradient clipping and a linearly
 * annealed step size. Actions are sampled unbounded; the env clips them (ControlEnv contract), and the
 * log-probabilities are those of the unclipped samples.
 *
 * GAE with auto-resetting vector envs (`computeGae`): for step t of copy i,
 *   δ_t = r_t + γ (1 − terminated_t) V(s′_t) − V(s_t),  Â_t = δ_t + γλ (1 − ended_t) Â_{t+1},
 * where s′_t is the state the step reached: VecEnv's `finalObs` when the episode ended (a time-limit
 * truncation is bootstrapped from it, a termination is not), the next rollout observation otherwise, and
 * V(s_T) bootstraps the rollout's cut. ended = terminated or truncated stops the recursion at episode
 * boundaries. Critic targets are the λ-returns Â_t + V(s_t).
 *
 * Clipped surrogate on a minibatch of M samples (`ppoSurrogate`), ρ_i = π_φ(a_i|s_i)/π_old(a_i|s_i):
 *   L(φ) = −(1/M) Σ_i min(ρ_i Â_i, clip(ρ_i, 1 − ε, 1 + ε) Â_i) − c_H · H(π_φ),
 * H = Σ_j (ℓ_j + ½ log 2πe) the Gaussian entropy. Its gradient is Σ_i w_i ∇ log π(a_i|s_i) with
 * w_i = −ρ_i Â_i / M where the unclipped term is the smaller one (else 0), minus c_H on each ℓ_j.
 *
 * Deterministic for a seed (all draws from streams split off the `rng` passed in; the envs carry their
 * own). Metrics after every rollout (`train/…`, `loss/…`) and deterministic evaluations (action μ(s)) on
 * the task's `evalEnv` every `evalInterval` steps and at the end (`eval/…`).
 */
import { z } from "zod";
import type { Rng } from "../math/rng.ts";
import { Adam, Mlp, type MlpWorkspace } from "../nn/index.ts";
import { GaussianMlpPolicy } from "../policies/mlp-policies.ts";
import {
  checkNetworkShape,
  clipGradNorm,
  type Evaluation,
  Evaluator,
  fromNumberArray,
  mlpSpec,
  type NetworkJson,
  networkToJson,
  type RlMetricsCallback,
  type RlTask,
  toNumberArray,
} from "./rl-common.ts";

export const PpoConfigSchema = z
  .object({
    totalSteps: z
      .number()
      .int()
      .nonnegative()
      .default(1_000_000)
      .describe("Environment steps (all copies together)"),
    nSteps: z.number().int().positive().default(2048).describe("Steps per env copy in one rollout"),
    gamma: z.number().gt(0).max(1).default(0.99).describe("Discount γ"),
    lambda: z.number().min(0).max(1).default(0.95).describe("GAE λ"),
    epochs: z.number().int().positive().default(10).describe("Passes over each rollout"),
    minibatchSize: z.number().int().positive().default(64).describe("Samples per gradient step"),
    clipRange: z.number().positive().default(0.2).describe("Surrogate clipping ε"),
    entCoef: z.number().nonnegative().default(0).describe("Entropy bonus c_H"),
    actorLr: z
      .number()
      .positive()
      .default(3e-4)
      .describe("Adam step size of the policy (initial, see annealLr)"),
    criticLr: z
      .number()
      .positive()
      .default(3e-4)
      .describe("Adam step size of the critic (initial, see annealLr)"),
    annealLr: z.boolean().default(true).describe("Decay both step sizes linearly to 0 over the run"),
    maxGradNorm: z
      .number()
      .nonnegative()
      .default(0.5)
      .describe("Clip each network's gradient to this norm (0: off)"),
    normalizeAdvantages: z.boolean().default(true).describe("Standardise Â within each minibatch"),
    targetKl: z
      .number()
      .positive()
      .nullable()
      .default(null)
      .describe("Stop a rollout's epochs once the approximate KL exceeds this (null: never)"),
    initLogStd: z.number().default(0).describe("Initial log σ of every action dimension"),
    hidden: z
      .array(z.number().int().positive())
      .default([64, 64])
      .describe("Hidden widths of policy and critic"),
    activation: z.enum(["tanh", "relu", "softplus"]).default("tanh").describe("Hidden activation"),
    policyOutputGain: z
      .number()
      .positive()
      .default(0.01)
      .describe("Scale of the policy's last-layer initial weights (small: μ starts near 0)"),
    evalInterval: z
      .number()
      .int()
      .nonnegative()
      .default(50_000)
      .describe("Steps between deterministic evaluations on the task's evalEnv (0: only at the end)"),
  })
  .describe(
    "PPO with clipped surrogate, GAE and a Gaussian MLP policy with learned log-std (CleanRL ppo_continuous_action defaults)",
  );
export type PpoConfig = z.infer<typeof PpoConfigSchema>;
export type PpoConfigInput = z.input<typeof PpoConfigSchema>;

/**
 * GAE(λ) over a rollout stored time-major (index t·n + i for copy i at step t, T steps): writes Â into
 * `advantages` and Â + V into `returns`. `nextValues[t·n + i]` is V(s′) of the state that step reached
 * (ignored where terminated); `ended` marks the last step of an episode (terminated or truncated).
 */
export function computeGae(
  T: number,
  n: number,
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  nextValues: ArrayLike<number>,
  terminated: ArrayLike<number>,
  ended: ArrayLike<number>,
  gamma: number,
  lambda: number,
  advantages: Float64Array,
  returns: Float64Array,
): void {
  for (const [name, a] of [
    ["rewards", rewards],
    ["values", values],
    ["nextValues", nextValues],
    ["terminated", terminated],
    ["ended", ended],
    ["advantages", advantages],
    ["returns", returns],
  ] as const)
    if (a.length < T * n)
      throw new RangeError(`computeGae: ${name} needs ${T}×${n} entries, got ${a.length}`);
  for (let i = 0; i < n; i++) {
    let next = 0;
    for (let t = T - 1; t >= 0; t--) {
      const k = t * n + i;
      const boot = terminated[k] ? 0 : gamma * nextValues[k];
      const delta = rewards[k] + boot - values[k];
      next = delta + (ended[k] ? 0 : gamma * lambda * next);
      advantages[k] = next;
      returns[k] = next + values[k];
    }
  }
}

export interface SurrogateStats {
  /** The clipped-surrogate loss L (including the entropy term). */
  loss: number;
  /** mean((ρ − 1) − log ρ), an estimate of KL(π_old ‖ π). */
  approxKl: number;
  /** Share of samples with |ρ − 1| > ε. */
  clipFraction: number;
  /** H(π_φ) of the Gaussian (state-independent). */
  entropy: number;
}

const HALF_LOG_2PIE = 0.5 * Math.log(2 * Math.PI * Math.E);

/**
 * The clipped surrogate loss of a minibatch (see the module comment) and, when `grad` is given, its
 * gradient ADDED into grad (φ layout of GaussianMlpPolicy with learned log-std). `logProbNew` is scratch
 * (≥ n entries); `weights` too.
 */
export function ppoSurrogate(
  policy: GaussianMlpPolicy,
  phi: Float64Array,
  obs: Float64Array,
  actions: Float64Array,
  logProbOld: ArrayLike<number>,
  advantages: ArrayLike<number>,
  n: number,
  clipRange: number,
  entCoef: number,
  grad: Float64Array | null,
  scratch: { logProbNew: Float64Array; weights: Float64Array } = {
    logProbNew: new Float64Array(n),
    weights: new Float64Array(n),
  },
): SurrogateStats {
  if (!policy.learnLogStd) throw new RangeError("ppoSurrogate: the policy must learn its log-std");
  const { logProbNew, weights } = scratch;
  // (the policy's out parameters are typed by their default value, Float64Array<ArrayBuffer>)
  policy.logProb(phi, obs, actions, n, logProbNew as Float64Array<ArrayBuffer>);
  let surr = 0;
  let kl = 0;
  let clipped = 0;
  for (let i = 0; i < n; i++) {
    const logRatio = logProbNew[i] - logProbOld[i];
    const rho = Math.exp(logRatio);
    const A = advantages[i];
    const unclipped = rho * A;
    const c = rho < 1 - clipRange ? 1 - clipRange : rho > 1 + clipRange ? 1 + clipRange : rho;
    const clippedTerm = c * A;
    const useUnclipped = unclipped <= clippedTerm;
    surr += useUnclipped ? unclipped : clippedTerm;
    weights[i] = useUnclipped ? -unclipped / n : 0;
    kl += rho - 1 - logRatio;
    if (Math.abs(rho - 1) > clipRange) clipped++;
  }
  const K = policy.actionSize;
  let entropy = 0;
  for (let j = 0; j < K; j++) entropy += phi[policy.netParams + j] + HALF_LOG_2PIE;
  if (grad !== null) {
    policy.scoreSum(phi, obs, actions, n, weights, grad);
    for (let j = 0; j < K; j++) grad[policy.netParams + j] -= entCoef;
  }
  return { loss: -surr / n - entCoef * entropy, approxKl: kl / n, clipFraction: clipped / n, entropy };
}

/** Policy mean net, log-std and critic; plain JSON, exact Float64. */
export interface PpoCheckpoint {
  format: "sim2real/ppo";
  version: 1;
  obsSize: number;
  actionSize: number;
  /** The mean network μ_φ(s). */
  actor: NetworkJson;
  logStd: number[];
  /** The critic V_w(s). */
  value: NetworkJson;
  steps: number;
}

/** PPO's networks: a Gaussian policy (learned log-std) and a critic. */
export class PpoAgent {
  readonly obsSize: number;
  readonly actionSize: number;
  readonly policy: GaussianMlpPolicy;
  readonly critic: Mlp;
  /** Policy parameters: the mean network's, then log σ_1..K. */
  readonly phi: Float64Array;
  readonly valueParams: Float64Array;
  steps = 0;
  private readonly wsMean: MlpWorkspace;
  private readonly wsV: MlpWorkspace;

  constructor(obsSize: number, actionSize: number, config: PpoConfigInput, rng: Rng) {
    const cfg = PpoConfigSchema.parse(config);
    this.obsSize = obsSize;
    this.actionSize = actionSize;
    this.policy = new GaussianMlpPolicy(mlpSpec(obsSize, cfg.hidden, cfg.activation, actionSize), {
      logStd: cfg.initLogStd,
      learnLogStd: true,
    });
    this.critic = new Mlp(mlpSpec(obsSize, cfg.hidden, cfg.activation, 1));
    const initRng = rng.split();
    this.phi = this.policy.init(initRng, { outputGain: cfg.policyOutputGain });
    this.valueParams = this.critic.init(initRng);
    this.wsMean = this.policy.net.workspace();
    this.wsV = this.critic.workspace();
  }

  /** Actions for n observations: μ(s) when deterministic, else a draw from N(μ, σ²) with `rng`. */
  act(obs: Float64Array, n: number, out: Float64Array, deterministic = true, rng?: Rng): void {
    if (deterministic) {
      const mu = this.policy.net.forward(this.phi.subarray(0, this.policy.netParams), obs, n, this.wsMean);
      out.set(mu.subarray(0, n * this.actionSize));
    } else {
      if (rng === undefined) throw new RangeError("PpoAgent.act: a stochastic action needs an rng");
      this.policy.sample(this.phi, obs, n, rng, out as Float64Array<ArrayBuffer>);
    }
  }

  /** V(s) for n observations. */
  value(obs: Float64Array, n: number, out: Float64Array): void {
    out.set(this.critic.forward(this.valueParams, obs, n, this.wsV).subarray(0, n));
  }

  checkpoint(): PpoCheckpoint {
    const nNet = this.policy.netParams;
    return {
      format: "sim2real/ppo",
      version: 1,
      obsSize: this.obsSize,
      actionSize: this.actionSize,
      actor: networkToJson(this.policy.net.spec, this.phi.subarray(0, nNet), "actor"),
      logStd: toNumberArray("logStd", this.phi.subarray(nNet)),
      value: networkToJson(this.critic.spec, this.valueParams, "value"),
      steps: this.steps,
    };
  }

  /** An agent with a checkpoint's parameters (validated); actions and values are bit-identical. */
  static fromCheckpoint(ckpt: PpoCheckpoint, rng: Rng): PpoAgent {
    if (ckpt?.format !== "sim2real/ppo" || ckpt.version !== 1)
      throw new RangeError("not a sim2real PPO checkpoint (format sim2real/ppo, version 1)");
    const sizes = ckpt.actor.spec.sizes;
    const act = ckpt.actor.spec.activations[0];
    const agent = new PpoAgent(
      ckpt.obsSize,
      ckpt.actionSize,
      { hidden: sizes.slice(1, -1), activation: act === "linear" ? "tanh" : act },
      rng,
    );
    checkNetworkShape("actor", ckpt.actor, agent.policy.net.spec);
    checkNetworkShape("value", ckpt.value, agent.critic.spec);
    const nNet = agent.policy.netParams;
    agent.phi.set(fromNumberArray("actor", ckpt.actor.params, nNet));
    agent.phi.set(fromNumberArray("logStd", ckpt.logStd, ckpt.actionSize), nNet);
    agent.valueParams.set(fromNumberArray("value", ckpt.value.params, agent.critic.nParams));
    agent.steps = ckpt.steps;
    return agent;
  }
}

export interface PpoResult {
  agent: PpoAgent;
  evaluations: Evaluation[];
  valueParams: Float64Array;
  value: (obs: Float64Array, n: number, out: Float64Array) => void;
  checkpoint: () => PpoCheckpoint;
  steps: number;
  episodes: number;
}

/** Fisher–Yates shuffle of 0..n−1 into `perm`. */
function shuffle(perm: Int32Array, rng: Rng): void {
  for (let i = 0; i < perm.length; i++) perm[i] = i;
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/**
 * Train PPO on `task` for `totalSteps` environment steps (rounded up to whole rollouts of n × nSteps).
 * `init` continues from a checkpoint's parameters. Deterministic for the state of `rng` and of the envs.
 */
export function trainPpo(
  task: RlTask,
  config: PpoConfigInput,
  rng: Rng,
  onMetrics?: RlMetricsCallback,
  init?: PpoCheckpoint,
): PpoResult {
  const cfg = PpoConfigSchema.parse(config);
  const env = task.env;
  const { n, obsSize: dS, actionSize: dA } = env;
  const agent =
    init === undefined ? new PpoAgent(dS, dA, cfg, rng.split()) : PpoAgent.fromCheckpoint(init, rng.split());
  if (agent.obsSize !== dS || agent.actionSize !== dA)
    throw new RangeError(
      `agent (${agent.obsSize} obs, ${agent.actionSize} actions) does not fit the env (${dS}, ${dA})`,
    );
  const rolloutRng = rng.split();
  const updateRng = rng.split();
  const { policy, critic, phi, valueParams } = agent;
  const T = cfg.nSteps;
  const N = T * n;
  const M = Math.min(cfg.minibatchSize, N);
  const rollouts = Math.ceil(cfg.totalSteps / N);
  const actorOpt = new Adam(policy.nParams, { lr: cfg.actorLr });
  const criticOpt = new Adam(critic.nParams, { lr: cfg.criticLr });
  const wsV = critic.workspace();
  // rollout storage, time-major
  const bObs = new Float64Array(N * dS);
  const bAct = new Float64Array(N * dA);
  const bLogp = new Float64Array(N);
  const bVal = new Float64Array(N);
  const bNextVal = new Float64Array(N);
  const bRew = new Float64Array(N);
  const bTerm = new Uint8Array(N);
  const bEnded = new Uint8Array(N);
  const bAdv = new Float64Array(N);
  const bRet = new Float64Array(N);
  // minibatch storage
  const mObs = new Float64Array(M * dS);
  const mAct = new Float64Array(M * dA);
  const mLogp = new Float64Array(M);
  const mAdv = new Float64Array(M);
  const mRet = new Float64Array(M);
  const scratch = { logProbNew: new Float64Array(M), weights: new Float64Array(M) };
  const dV = new Float64Array(M);
  const gActor = new Float64Array(policy.nParams);
  const gCritic = new Float64Array(critic.nParams);
  const perm = new Int32Array(N);
  const truncRows: number[] = [];
  const truncObs = new Float64Array(n * dS);

  const obs = Float64Array.from(env.reset());
  const epReturn = new Float64Array(n);
  const epLength = new Float64Array(n);
  let steps = 0;
  let episodes = 0;
  const evaluator = new Evaluator(task, (o, m, out) => agent.act(o, m, out, true), onMetrics);

  for (let it = 0; it < rollouts; it++) {
    if (cfg.annealLr) {
      const frac = 1 - it / rollouts;
      actorOpt.lr = cfg.actorLr * frac;
      criticOpt.lr = cfg.criticLr * frac;
    }
    // ---- rollout ----
    let doneReturns = 0;
    let doneLengths = 0;
    let doneCount = 0;
    for (let t = 0; t < T; t++) {
      const o = t * n;
      bObs.set(obs, o * dS);
      const act = bAct.subarray(o * dA, (o + n) * dA);
      policy.sample(phi, obs, n, rolloutRng, act);
      policy.logProb(phi, obs, act, n, bLogp.subarray(o, o + n));
      bVal.set(critic.forward(valueParams, obs, n, wsV).subarray(0, n), o);
      const res = env.step(act);
      truncRows.length = 0;
      for (let i = 0; i < n; i++) {
        const k = o + i;
        bRew[k] = res.reward[i];
        bTerm[k] = res.terminated[i] ? 1 : 0;
        bEnded[k] = res.terminated[i] || res.truncated[i] ? 1 : 0;
        bNextVal[k] = 0;
        if (res.truncated[i] && !res.terminated[i]) {
          truncObs.set(res.finalObs.subarray(i * dS, (i + 1) * dS), truncRows.length * dS);
          truncRows.push(i);
        }
        epReturn[i] += res.reward[i];
        epLength[i]++;
        if (bEnded[k]) {
          doneReturns += epReturn[i];
          doneLengths += epLength[i];
          doneCount++;
          episodes++;
          epReturn[i] = 0;
          epLength[i] = 0;
        }
      }
      if (truncRows.length > 0) {
        const v = critic.forward(valueParams, truncObs, truncRows.length, wsV);
        truncRows.forEach((i, r) => {
          bNextVal[o + i] = v[r];
        });
      }
      obs.set(res.obs);
    }
    steps += N;
    agent.steps += N;
    // V(s′) for steps that did not end an episode: the next step's V, or V(s_T) at the cut.
    const last = critic.forward(valueParams, obs, n, wsV);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < n; i++) {
        const k = t * n + i;
        if (!bEnded[k]) bNextVal[k] = t + 1 < T ? bVal[k + n] : last[i];
      }
    computeGae(T, n, bRew, bVal, bNextVal, bTerm, bEnded, cfg.gamma, cfg.lambda, bAdv, bRet);

    // ---- update ----
    let pLoss = 0;
    let vLoss = 0;
    let kl = 0;
    let clipFrac = 0;
    let entropy = 0;
    let nMb = 0;
    let epochsRun = 0;
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      shuffle(perm, updateRng);
      let epochKl = 0;
      let epochMb = 0;
      for (let start = 0; start + M <= N; start += M) {
        for (let r = 0; r < M; r++) {
          const k = perm[start + r];
          mObs.set(bObs.subarray(k * dS, (k + 1) * dS), r * dS);
          mAct.set(bAct.subarray(k * dA, (k + 1) * dA), r * dA);
          mLogp[r] = bLogp[k];
          mAdv[r] = bAdv[k];
          mRet[r] = bRet[k];
        }
        if (cfg.normalizeAdvantages && M > 1) {
          let mean = 0;
          for (let r = 0; r < M; r++) mean += mAdv[r] / M;
          let v = 0;
          for (let r = 0; r < M; r++) v += (mAdv[r] - mean) ** 2 / (M - 1);
          const sd = Math.sqrt(v) + 1e-8;
          for (let r = 0; r < M; r++) mAdv[r] = (mAdv[r] - mean) / sd;
        }
        gActor.fill(0);
        const s = ppoSurrogate(
          policy,
          phi,
          mObs,
          mAct,
          mLogp,
          mAdv,
          M,
          cfg.clipRange,
          cfg.entCoef,
          gActor,
          scratch,
        );
        clipGradNorm(gActor, cfg.maxGradNorm);
        actorOpt.step(phi, gActor);
        const vOut = critic.forward(valueParams, mObs, M, wsV);
        let l = 0;
        for (let r = 0; r < M; r++) {
          const e = vOut[r] - mRet[r];
          l += (0.5 * e * e) / M;
          dV[r] = e / M;
        }
        gCritic.fill(0);
        critic.backward(valueParams, wsV, dV, gCritic);
        clipGradNorm(gCritic, cfg.maxGradNorm);
        criticOpt.step(valueParams, gCritic);
        pLoss += s.loss;
        vLoss += l;
        kl += s.approxKl;
        clipFrac += s.clipFraction;
        entropy = s.entropy;
        nMb++;
        epochKl += s.approxKl;
        epochMb++;
      }
      epochsRun++;
      if (cfg.targetKl !== null && epochMb > 0 && epochKl / epochMb > cfg.targetKl) break;
    }
    // explained variance of the rollout's value predictions
    let mr = 0;
    for (let k = 0; k < N; k++) mr += bRet[k] / N;
    let varR = 0;
    let varE = 0;
    for (let k = 0; k < N; k++) {
      varR += (bRet[k] - mr) ** 2;
      varE += (bRet[k] - bVal[k]) ** 2;
    }
    let meanStd = 0;
    for (let j = 0; j < dA; j++) meanStd += Math.exp(phi[policy.netParams + j]) / dA;
    const m: Record<string, number> = {
      "train/episodes": episodes,
      "train/rollouts": it + 1,
      "train/epochs": epochsRun,
      "train/std": meanStd,
      "train/lr": actorOpt.lr,
    };
    if (doneCount > 0) {
      m["train/episodeReturn"] = doneReturns / doneCount;
      m["train/episodeLength"] = doneLengths / doneCount;
    }
    if (nMb > 0) {
      m["loss/policy"] = pLoss / nMb;
      m["loss/value"] = vLoss / nMb;
      m["train/approxKl"] = kl / nMb;
      m["train/clipFraction"] = clipFrac / nMb;
      m["train/entropy"] = entropy;
    }
    if (varR > 0) m["train/explainedVariance"] = 1 - varE / varR;
    onMetrics?.(steps, m);
    if (
      cfg.evalInterval > 0 &&
      Math.floor(steps / cfg.evalInterval) > Math.floor((steps - N) / cfg.evalInterval)
    )
      evaluator.run(steps);
  }
  evaluator.final(steps);
  return {
    agent,
    evaluations: evaluator.evaluations,
    valueParams,
    value: (o, m, out) => agent.value(o, m, out),
    checkpoint: () => agent.checkpoint(),
    steps,
    episodes,
  };
}
