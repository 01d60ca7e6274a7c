/**
 * Soft actor-critic (Haarnoja et al. 2018, "SAC: algorithms and applications"), as in Stable-Baselines3:
 * twin Q critics with Polyak-averaged targets, a tanh-squashed Gaussian actor with the log-det correction
 * (src/policies/squashed-gaussian.ts), automatic temperature towards an entropy target (default −|A|),
 * uniform replay. Plus the value network that simulation-guided fine-tuning (SGFT) needs.
 *
 * One update on a replay batch (s, a, r, s′, d), a in normalised units [−1, 1]^K:
 *   critics  y = r + γ (1 − d) (min_i Q̄_i(s′, a′) − α log π(a′|s′)),  a′ ~ π(·|s′);
 *            minimise ½ mean (Q_i(s, a) − y)² for i = 1, 2 (Q̄ the target networks);
 *   actor    minimise mean (α log π(ã|s) − min_i Q_i(s, ã)), ã = tanh(μ + σε) reparameterised, with the
 *            critics just updated;
 *   α        minimise −log α · mean(log π(ã|s) + H̄) (SB3's form): α grows while the entropy −log π is
 *            below the target H̄, shrinks above it;
 *   V        minimise ½ mean (V(s) − v)², v = min_i Q_i(s, ã) with the actor's sample ã ~ π(·|s) ("policy-
 *            sample", default: one sample per row; regression on a noisy target whose mean is the
 *            expectation converges to E_{a~π} min_i Q_i(s, a) at no extra cost) or v = min_i Q_i(s, tanh μ(s))
 *            ("mean-action": the value of the deterministic evaluation policy; two more critic passes).
 *            V is the critics' value of the policy without the entropy bonus of the current step (the soft
 *            critics do include the discounted bonuses of later steps, α log π small once α has fallen);
 *   targets  Q̄_i ← (1 − τ) Q̄_i + τ Q_i.
 * Actions for the env are a mapped affinely into its (finite) action box; the replay buffer and the
 * critics use normalised actions, so the log-density and the entropy target are in normalised units.
 *
 * Training (`trainSac`): `learningStarts` environment steps with uniform random actions, then one action
 * from the policy per step and `gradientSteps` updates after each vector step. Time-limit truncations are
 * bootstrapped (the buffer stores VecEnv's `finalObs` as s′ with d = 0), terminations are not.
 * Deterministic for a seed: every random draw comes from streams split off the `rng` passed in (the envs
 * carry their own, given by the caller). The core never prints: metrics go to `onMetrics` every
 * `logInterval` steps (`train/…`, `loss/…`) and evaluations of the deterministic policy tanh μ(s) on the
 * task's `evalEnv` every `evalInterval` steps and at the end (`eval/…`).
 *
 * Checkpoints (`SacAgent.checkpoint`, JSON): actor, both critics and their targets, the value network,
 * log α and the action box, exact Float64. `SacAgent.fromCheckpoint` restores them (with fresh
 * optimisers); actions are then bit-identical.
 */
import { z } from "zod";
import type { Box } from "../envs/control/env.ts";
import type { Rng } from "../math/rng.ts";
import { Adam, Mlp, type MlpWorkspace } from "../nn/index.ts";
import { SquashedGaussianPolicy } from "../policies/squashed-gaussian.ts";
import { allocBatch, ReplayBuffer, type TransitionBatch } from "./replay-buffer.ts";
import {
  checkFiniteBox,
  checkNetworkShape,
  type Evaluation,
  Evaluator,
  fromNumberArray,
  mlpSpec,
  type NetworkJson,
  networkToJson,
  polyakUpdate,
  type RlMetricsCallback,
  type RlTask,
  toNumberArray,
} from "./rl-common.ts";

export const SacConfigSchema = z
  .object({
    totalSteps: z
      .number()
      .int()
      .nonnegative()
      .default(20_000)
      .describe("Environment steps (all copies together)"),
    learningStarts: z
      .number()
      .int()
      .nonnegative()
      .default(1000)
      .describe("Steps with uniform random actions before the policy acts and updates begin"),
    bufferSize: z.number().int().positive().default(1_000_000).describe("Replay capacity (transitions)"),
    batchSize: z.number().int().positive().default(256).describe("Transitions per gradient update"),
    gradientSteps: z
      .number()
      .int()
      .nonnegative()
      .default(1)
      .describe("Gradient updates after each vector step (n transitions)"),
    gamma: z.number().gt(0).lt(1).default(0.99).describe("Discount γ"),
    tau: z.number().gt(0).max(1).default(0.005).describe("Polyak rate τ of the target critics"),
    targetUpdateInterval: z.number().int().positive().default(1).describe("Updates between Polyak steps"),
    actorLr: z.number().positive().default(3e-4).describe("Adam step size of the actor"),
    criticLr: z.number().positive().default(3e-4).describe("Adam step size of each critic"),
    alphaLr: z.number().positive().default(3e-4).describe("Adam step size of log α"),
    hidden: z
      .array(z.number().int().positive())
      .default([256, 256])
      .describe("Hidden widths of actor and critics (SB3: [256, 256])"),
    activation: z.enum(["relu", "tanh", "softplus"]).default("relu").describe("Hidden activation"),
    logStdMin: z
      .number()
      .default(-5)
      .describe("Lower end of the actor's log-std range (smooth tanh squashing)"),
    logStdMax: z.number().default(2).describe("Upper end of the actor's log-std range"),
    initAlpha: z
      .number()
      .positive()
      .default(1)
      .describe("Initial (or, without learnAlpha, fixed) temperature α"),
    learnAlpha: z.boolean().default(true).describe("Tune α automatically towards the entropy target"),
    targetEntropy: z
      .union([z.literal("auto"), z.number()])
      .default("auto")
      .describe("Entropy target H̄ in normalised action units; auto: −|A|"),
    value: z
      .object({
        enabled: z.boolean().default(true).describe("Train the value network V(s) (SGFT's V_sim)"),
        hidden: z
          .array(z.number().int().positive())
          .optional()
          .describe("Hidden widths of V (default: the critics')"),
        lr: z.number().positive().optional().describe("Adam step size of V (default: criticLr)"),
        target: z
          .enum(["policy-sample", "mean-action"])
          .default("policy-sample")
          .describe(
            "Regression target: min_i Q_i(s, ã) with the actor's sample ã ~ π (unbiased for E_π, free) or at the mean action tanh μ(s)",
          ),
      })
      .prefault({})
      .describe("The value network regressed towards the critics' value of the policy"),
    logInterval: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Steps between train/loss metric reports (means over the interval)"),
    evalInterval: z
      .number()
      .int()
      .nonnegative()
      .default(5000)
      .describe("Steps between deterministic evaluations on the task's evalEnv (0: only at the end)"),
  })
  .describe(
    "Soft actor-critic (SB3 defaults): twin critics, Polyak targets, tanh-squashed Gaussian actor, automatic temperature, plus SGFT's value network",
  );
export type SacConfig = z.infer<typeof SacConfigSchema>;
export type SacConfigInput = z.input<typeof SacConfigSchema>;

/** Means over one update's batch. */
export interface SacUpdateStats {
  /** ½ mean (Q − y)², averaged over the two critics, before their step. */
  criticLoss: number;
  /** mean (α log π − min Q) before the actor's step. */
  actorLoss: number;
  /** −log α · mean(log π + H̄) before α's step. */
  alphaLoss: number;
  /** ½ mean (V − v)² before V's step (NaN without a value network). */
  valueLoss: number;
  /** α used in this update. */
  alpha: number;
  /** −mean log π(ã|s): the policy's entropy estimate. */
  entropy: number;
  /** mean min_i Q_i(s, ã). */
  q: number;
}

/** Everything needed to act and to evaluate values again; plain JSON, exact Float64. */
export interface SacCheckpoint {
  format: "sim2real/sac";
  version: 1;
  obsSize: number;
  actionSize: number;
  actionLow: number[];
  actionHigh: number[];
  logStdMin: number;
  logStdMax: number;
  actor: NetworkJson;
  critics: [NetworkJson, NetworkJson];
  targetCritics: [NetworkJson, NetworkJson];
  /** V(s) (SGFT's V_sim); null when the value network was disabled. */
  value: NetworkJson | null;
  logAlpha: number;
  targetEntropy: number;
  /** Environment steps and updates behind these parameters. */
  steps: number;
  updates: number;
}

/** The SAC learner: networks, optimisers and one gradient update on a batch. Not re-entrant. */
export class SacAgent {
  readonly cfg: SacConfig;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly box: Box;
  readonly policy: SquashedGaussianPolicy;
  readonly critic: Mlp;
  readonly valueNet: Mlp | null;
  readonly targetEntropy: number;
  readonly actorParams: Float64Array;
  readonly critic1: Float64Array;
  readonly critic2: Float64Array;
  readonly target1: Float64Array;
  readonly target2: Float64Array;
  /** Empty without a value network. */
  readonly valueParams: Float64Array;
  /** Learned log α (a one-entry array, so Adam can step it). */
  private readonly logAlphaArr: Float64Array;
  /** Environment steps and updates (bookkeeping for checkpoints). */
  steps = 0;
  updates = 0;
  private readonly rng: Rng;
  private readonly actorOpt: Adam;
  private readonly critic1Opt: Adam;
  private readonly critic2Opt: Adam;
  private readonly alphaOpt: Adam;
  private readonly valueOpt: Adam | null;
  private readonly ws1: MlpWorkspace;
  private readonly ws2: MlpWorkspace;
  private readonly wsT1: MlpWorkspace;
  private readonly wsT2: MlpWorkspace;
  private readonly wsV: MlpWorkspace | null;
  private readonly center: Float64Array;
  private readonly halfWidth: Float64Array;
  // scratch, grown to the batch size
  private cap = 0;
  private sa = new Float64Array(0);
  private aBuf = new Float64Array(0);
  private logp = new Float64Array(0);
  private y = new Float64Array(0);
  private q1 = new Float64Array(0);
  private q2 = new Float64Array(0);
  private dq1 = new Float64Array(0);
  private dq2 = new Float64Array(0);
  private dX1 = new Float64Array(0);
  private dX2 = new Float64Array(0);
  private dA = new Float64Array(0);
  private dLogp = new Float64Array(0);
  private vTarget = new Float64Array(0);
  private dV = new Float64Array(0);
  private readonly gActor: Float64Array;
  private readonly gCritic: Float64Array;
  private readonly gValue: Float64Array;
  private readonly gAlpha = new Float64Array(1);

  /**
   * Fresh networks for an env with `obsSize` observations and the action box `box` (finite bounds).
   * `rng` is split once for the initial parameters and once for the updates' noise.
   */
  constructor(obsSize: number, box: Box, config: SacConfigInput, rng: Rng) {
    const cfg = SacConfigSchema.parse(config);
    this.cfg = cfg;
    const dA = box.low.length;
    checkFiniteBox(box, dA);
    this.obsSize = obsSize;
    this.actionSize = dA;
    this.box = { low: Float64Array.from(box.low), high: Float64Array.from(box.high) };
    this.center = Float64Array.from({ length: dA }, (_, j) => 0.5 * (box.high[j] + box.low[j]));
    this.halfWidth = Float64Array.from({ length: dA }, (_, j) => 0.5 * (box.high[j] - box.low[j]));
    this.targetEntropy = cfg.targetEntropy === "auto" ? -dA : cfg.targetEntropy;
    this.policy = new SquashedGaussianPolicy(obsSize, dA, {
      hidden: cfg.hidden,
      activation: cfg.activation,
      logStdMin: cfg.logStdMin,
      logStdMax: cfg.logStdMax,
    });
    this.critic = new Mlp(mlpSpec(obsSize + dA, cfg.hidden, cfg.activation, 1));
    this.valueNet = cfg.value.enabled
      ? new Mlp(mlpSpec(obsSize, cfg.value.hidden ?? cfg.hidden, cfg.activation, 1))
      : null;
    const initRng = rng.split();
    this.rng = rng.split();
    this.actorParams = this.policy.init(initRng);
    this.critic1 = this.critic.init(initRng);
    this.critic2 = this.critic.init(initRng);
    this.target1 = Float64Array.from(this.critic1);
    this.target2 = Float64Array.from(this.critic2);
    this.valueParams = this.valueNet === null ? new Float64Array(0) : this.valueNet.init(initRng);
    this.logAlphaArr = Float64Array.of(Math.log(cfg.initAlpha));
    this.actorOpt = new Adam(this.policy.nParams, { lr: cfg.actorLr });
    this.critic1Opt = new Adam(this.critic.nParams, { lr: cfg.criticLr });
    this.critic2Opt = new Adam(this.critic.nParams, { lr: cfg.criticLr });
    this.alphaOpt = new Adam(1, { lr: cfg.alphaLr });
    this.valueOpt =
      this.valueNet === null ? null : new Adam(this.valueNet.nParams, { lr: cfg.value.lr ?? cfg.criticLr });
    this.ws1 = this.critic.workspace();
    this.ws2 = this.critic.workspace();
    this.wsT1 = this.critic.workspace();
    this.wsT2 = this.critic.workspace();
    this.wsV = this.valueNet === null ? null : this.valueNet.workspace();
    this.gActor = new Float64Array(this.policy.nParams);
    this.gCritic = new Float64Array(this.critic.nParams);
    this.gValue = new Float64Array(this.valueNet === null ? 0 : this.valueNet.nParams);
  }

  /** Current temperature α. */
  get alpha(): number {
    return Math.exp(this.logAlphaArr[0]);
  }

  get logAlpha(): number {
    return this.logAlphaArr[0];
  }

  private reserve(n: number): void {
    if (n <= this.cap) return;
    const dS = this.obsSize;
    const dA = this.actionSize;
    this.cap = n;
    this.sa = new Float64Array(n * (dS + dA));
    this.aBuf = new Float64Array(n * dA);
    this.logp = new Float64Array(n);
    this.y = new Float64Array(n);
    this.q1 = new Float64Array(n);
    this.q2 = new Float64Array(n);
    this.dq1 = new Float64Array(n);
    this.dq2 = new Float64Array(n);
    this.dX1 = new Float64Array(n * (dS + dA));
    this.dX2 = new Float64Array(n * (dS + dA));
    this.dA = new Float64Array(n * dA);
    this.dLogp = new Float64Array(n);
    this.vTarget = new Float64Array(n);
    this.dV = new Float64Array(n);
  }

  /** sa ← rows [obs_r, act_r]. */
  private fillSa(obs: Float64Array, act: Float64Array, n: number): void {
    const dS = this.obsSize;
    const dA = this.actionSize;
    const w = dS + dA;
    const sa = this.sa;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dS; j++) sa[r * w + j] = obs[r * dS + j];
      for (let j = 0; j < dA; j++) sa[r * w + dS + j] = act[r * dA + j];
    }
  }

  /** Normalised action a ∈ [−1, 1]^K → env units. */
  toEnvAction(aNorm: Float64Array, n: number, out: Float64Array): void {
    const K = this.actionSize;
    for (let r = 0; r < n; r++)
      for (let j = 0; j < K; j++) out[r * K + j] = this.center[j] + this.halfWidth[j] * aNorm[r * K + j];
  }

  /**
   * Normalised actions for n observations: tanh μ(s) when deterministic, else a draw from π(·|s) with
   * `rng` (default: the agent's own update stream).
   */
  actNormalised(obs: Float64Array, n: number, out: Float64Array, deterministic: boolean, rng?: Rng): void {
    if (deterministic) this.policy.deterministic(this.actorParams, obs, n, out);
    else {
      this.reserve(n);
      this.policy.sample(this.actorParams, obs, n, rng ?? this.rng, out, this.logp);
    }
  }

  /** Env-unit actions (see actNormalised). */
  act(obs: Float64Array, n: number, out: Float64Array, deterministic = true, rng?: Rng): void {
    this.actNormalised(obs, n, out, deterministic, rng);
    this.toEnvAction(out, n, out);
  }

  /** Q_1 and Q_2 of normalised actions. */
  qValues(obs: Float64Array, aNorm: Float64Array, n: number, q1: Float64Array, q2: Float64Array): void {
    this.reserve(n);
    this.fillSa(obs, aNorm, n);
    q1.set(this.critic.forward(this.critic1, this.sa, n, this.ws1).subarray(0, n));
    q2.set(this.critic.forward(this.critic2, this.sa, n, this.ws2).subarray(0, n));
  }

  /** V(s) for n observations (throws without a value network). */
  value(obs: Float64Array, n: number, out: Float64Array): void {
    if (this.valueNet === null || this.wsV === null) throw new Error("this SAC agent has no value network");
    out.set(this.valueNet.forward(this.valueParams, obs, n, this.wsV).subarray(0, n));
  }

  /**
   * The actor's loss mean_r (α log π(ã_r|s_r) − min_i Q_i(s_r, ã_r)) on n observations, ã = tanh(μ + σε)
   * with ε from `noise` (an Rng or given n × K numbers), at the current α and critics; its gradient with
   * respect to the actor's parameters is ADDED into `grad` when given (reparameterised, through the
   * critics' action inputs). Also leaves min_i Q_i(s_r, ã_r) in the value network's target buffer.
   *
   * `anchor` adds a behaviour-cloning term λ·mean_r ‖ã_r − b_r‖² towards given normalised actions b (n ×
   * dA): it keeps a fine-tuned actor near a reference policy's actions where the critic is unreliable
   * (TD3+BC, Fujimoto & Gu 2021); SGFT-SAC anchors to the sim policy (src/sgft/sgft-sac.ts).
   */
  actorObjective(
    obs: Float64Array,
    n: number,
    noise: Rng | Float64Array,
    grad: Float64Array | null,
    anchor?: { actions: Float64Array; weight: number },
  ): { loss: number; meanLogProb: number; meanQ: number } {
    const dS = this.obsSize;
    const dA = this.actionSize;
    const w = dS + dA;
    this.reserve(n);
    const { critic, policy, sa, aBuf, logp, q1, q2, dq1, dq2 } = this;
    const alpha = this.alpha;
    policy.sample(this.actorParams, obs, n, noise, aBuf, logp);
    this.fillSa(obs, aBuf, n);
    q1.set(critic.forward(this.critic1, sa, n, this.ws1).subarray(0, n));
    q2.set(critic.forward(this.critic2, sa, n, this.ws2).subarray(0, n));
    let loss = 0;
    let meanLogProb = 0;
    let meanQ = 0;
    for (let r = 0; r < n; r++) {
      const first = q1[r] <= q2[r];
      const m = first ? q1[r] : q2[r];
      this.vTarget[r] = m;
      loss += (alpha * logp[r] - m) / n;
      meanLogProb += logp[r] / n;
      meanQ += m / n;
      // the gradient of the min goes through the smaller critic (a tie is measure-zero)
      dq1[r] = first ? -1 / n : 0;
      dq2[r] = first ? 0 : -1 / n;
      this.dLogp[r] = alpha / n;
    }
    if (anchor !== undefined) {
      const { actions: b, weight } = anchor;
      for (let k = 0; k < n * dA; k++) {
        const e = aBuf[k] - b[k];
        loss += (weight * e * e) / n;
      }
    }
    if (grad !== null) {
      critic.backward(this.critic1, this.ws1, dq1, null, this.dX1);
      critic.backward(this.critic2, this.ws2, dq2, null, this.dX2);
      for (let r = 0; r < n; r++)
        for (let j = 0; j < dA; j++)
          this.dA[r * dA + j] = this.dX1[r * w + dS + j] + this.dX2[r * w + dS + j];
      if (anchor !== undefined)
        for (let k = 0; k < n * dA; k++)
          this.dA[k] += (2 * anchor.weight * (aBuf[k] - anchor.actions[k])) / n;
      policy.backward(this.actorParams, this.dA, this.dLogp, grad);
    }
    return { loss, meanLogProb, meanQ };
  }

  /**
   * One Adam step of each critic on ½ mean_r (Q_i(obs_r, act_r) − y_r)² (normalised actions); returns the
   * loss averaged over the two critics, before the step. SGFT (src/sgft/sgft-sac.ts) calls it with its own
   * H-step targets.
   */
  criticStep(obs: Float64Array, actions: Float64Array, y: Float64Array, n: number): number {
    this.reserve(n);
    const { critic, sa, dq1 } = this;
    this.fillSa(obs, actions, n);
    let criticLoss = 0;
    for (const [params, ws, opt] of [
      [this.critic1, this.ws1, this.critic1Opt],
      [this.critic2, this.ws2, this.critic2Opt],
    ] as const) {
      const q = critic.forward(params, sa, n, ws);
      for (let r = 0; r < n; r++) {
        const e = q[r] - y[r];
        criticLoss += (0.5 * e * e) / n;
        dq1[r] = e / n;
      }
      this.gCritic.fill(0);
      critic.backward(params, ws, dq1, this.gCritic);
      opt.step(params, this.gCritic);
    }
    return criticLoss / 2;
  }

  /**
   * One Adam step of the actor on mean (α log π(ã|s) − min_i Q_i(s, ã)) over n observations, then (with
   * learnAlpha) one of log α; the value network's targets are left in place for step 5 of `update`.
   */
  actorAlphaStep(
    obs: Float64Array,
    n: number,
    anchor?: { actions: Float64Array; weight: number },
  ): { actorLoss: number; alphaLoss: number; meanLogp: number; meanQ: number } {
    this.gActor.fill(0);
    const actor = this.actorObjective(obs, n, this.rng, this.gActor, anchor);
    const { loss: actorLoss, meanLogProb: meanLogp, meanQ } = actor;
    this.actorOpt.step(this.actorParams, this.gActor);
    // gradient of −log α · mean(log π + H̄) with respect to log α
    const alphaLoss = -this.logAlphaArr[0] * (meanLogp + this.targetEntropy);
    if (this.cfg.learnAlpha) {
      this.gAlpha[0] = -(meanLogp + this.targetEntropy);
      this.alphaOpt.step(this.logAlphaArr, this.gAlpha);
    }
    return { actorLoss, alphaLoss, meanLogp, meanQ };
  }

  /** Fix the temperature (SGFT fine-tunes with a fixed α; pair with learnAlpha: false). */
  setAlpha(alpha: number): void {
    if (!(Number.isFinite(alpha) && alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
    this.logAlphaArr[0] = Math.log(alpha);
  }

  /** Fresh random critics (and targets equal to them), fresh critic optimisers: SGFT's critic reset. */
  resetCritics(rng: Rng): void {
    this.critic1.set(this.critic.init(rng));
    this.critic2.set(this.critic.init(rng));
    this.target1.set(this.critic1);
    this.target2.set(this.critic2);
    this.critic1Opt.reset();
    this.critic2Opt.reset();
  }

  /** One gradient update of critics, actor, α, V and the targets on `batch` (normalised actions). */
  update(batch: TransitionBatch): SacUpdateStats {
    const B = batch.size;
    const cfg = this.cfg;
    this.reserve(B);
    const { critic, policy, sa, aBuf, logp, y } = this;
    const alpha = this.alpha;
    const gamma = cfg.gamma;

    // 1. Bellman targets from the target critics at a′ ~ π(·|s′).
    policy.sample(this.actorParams, batch.nextObs, B, this.rng, aBuf, logp);
    this.fillSa(batch.nextObs, aBuf, B);
    const t1 = critic.forward(this.target1, sa, B, this.wsT1);
    const t2 = critic.forward(this.target2, sa, B, this.wsT2);
    for (let r = 0; r < B; r++) {
      const m = t1[r] < t2[r] ? t1[r] : t2[r];
      y[r] = batch.rewards[r] + gamma * (1 - batch.terminated[r]) * (m - alpha * logp[r]);
    }

    // 2. Critics: ½ mean (Q_i(s, a) − y)².
    const criticLoss = this.criticStep(batch.obs, batch.actions, y, B);

    // 3–4. Actor with the critics just updated, then the temperature.
    const { actorLoss, alphaLoss, meanLogp, meanQ } = this.actorAlphaStep(batch.obs, B);

    // 5. Value network towards min_i Q_i(s, ·) under the policy.
    let valueLoss = Number.NaN;
    if (this.valueNet !== null && this.wsV !== null && this.valueOpt !== null) {
      if (cfg.value.target === "mean-action") {
        policy.deterministic(this.actorParams, batch.obs, B, aBuf);
        this.fillSa(batch.obs, aBuf, B);
        const m1 = critic.forward(this.critic1, sa, B, this.ws1);
        const m2 = critic.forward(this.critic2, sa, B, this.ws2);
        for (let r = 0; r < B; r++) this.vTarget[r] = m1[r] < m2[r] ? m1[r] : m2[r];
      }
      const v = this.valueNet.forward(this.valueParams, batch.obs, B, this.wsV);
      valueLoss = 0;
      for (let r = 0; r < B; r++) {
        const e = v[r] - this.vTarget[r];
        valueLoss += (0.5 * e * e) / B;
        this.dV[r] = e / B;
      }
      this.gValue.fill(0);
      this.valueNet.backward(this.valueParams, this.wsV, this.dV, this.gValue);
      this.valueOpt.step(this.valueParams, this.gValue);
    }

    // 6. Polyak averaging of the target critics.
    this.updates++;
    if (this.updates % cfg.targetUpdateInterval === 0) {
      polyakUpdate(this.target1, this.critic1, cfg.tau);
      polyakUpdate(this.target2, this.critic2, cfg.tau);
    }
    return { criticLoss, actorLoss, alphaLoss, valueLoss, alpha, entropy: -meanLogp, q: meanQ };
  }

  checkpoint(): SacCheckpoint {
    const criticSpec = this.critic.spec;
    return {
      format: "sim2real/sac",
      version: 1,
      obsSize: this.obsSize,
      actionSize: this.actionSize,
      actionLow: toNumberArray("actionLow", this.box.low),
      actionHigh: toNumberArray("actionHigh", this.box.high),
      logStdMin: this.policy.logStdMin,
      logStdMax: this.policy.logStdMax,
      actor: networkToJson(this.policy.net.spec, this.actorParams, "actor"),
      critics: [
        networkToJson(criticSpec, this.critic1, "critic1"),
        networkToJson(criticSpec, this.critic2, "critic2"),
      ],
      targetCritics: [
        networkToJson(criticSpec, this.target1, "target1"),
        networkToJson(criticSpec, this.target2, "target2"),
      ],
      value: this.valueNet === null ? null : networkToJson(this.valueNet.spec, this.valueParams, "value"),
      logAlpha: this.logAlphaArr[0],
      targetEntropy: this.targetEntropy,
      steps: this.steps,
      updates: this.updates,
    };
  }

  /**
   * An agent with a checkpoint's parameters (validated; network shapes come from the checkpoint, the rest
   * of `config` as given). Optimiser moments start afresh; actions and values are bit-identical.
   */
  static fromCheckpoint(ckpt: SacCheckpoint, config: SacConfigInput, rng: Rng): SacAgent {
    if (ckpt?.format !== "sim2real/sac" || ckpt.version !== 1)
      throw new RangeError("not a sim2real SAC checkpoint (format sim2real/sac, version 1)");
    const sizes = ckpt.actor.spec.sizes;
    const hidden = sizes.slice(1, -1);
    const activation = ckpt.actor.spec.activations[0];
    const valueHidden = ckpt.value === null ? undefined : ckpt.value.spec.sizes.slice(1, -1);
    const base = SacConfigSchema.parse(config);
    const cfg: SacConfigInput = {
      ...base,
      hidden,
      activation: activation === "linear" ? "relu" : activation,
      logStdMin: ckpt.logStdMin,
      logStdMax: ckpt.logStdMax,
      targetEntropy: ckpt.targetEntropy,
      value: { ...base.value, enabled: ckpt.value !== null, hidden: valueHidden },
    };
    const box = {
      low: fromNumberArray("actionLow", ckpt.actionLow, ckpt.actionSize),
      high: fromNumberArray("actionHigh", ckpt.actionHigh, ckpt.actionSize),
    };
    const agent = new SacAgent(ckpt.obsSize, box, cfg, rng);
    checkNetworkShape("actor", ckpt.actor, agent.policy.net.spec);
    agent.actorParams.set(fromNumberArray("actor", ckpt.actor.params, agent.policy.nParams));
    const targets = [agent.critic1, agent.critic2, agent.target1, agent.target2];
    [...ckpt.critics, ...ckpt.targetCritics].forEach((net, i) => {
      checkNetworkShape(`critic ${i}`, net, agent.critic.spec);
      targets[i].set(fromNumberArray(`critic ${i}`, net.params, agent.critic.nParams));
    });
    if (ckpt.value !== null && agent.valueNet !== null) {
      checkNetworkShape("value", ckpt.value, agent.valueNet.spec);
      agent.valueParams.set(fromNumberArray("value", ckpt.value.params, agent.valueNet.nParams));
    }
    if (!Number.isFinite(ckpt.logAlpha)) throw new RangeError("checkpoint logAlpha must be finite");
    agent.logAlphaArr[0] = ckpt.logAlpha;
    agent.steps = ckpt.steps;
    agent.updates = ckpt.updates;
    return agent;
  }
}

export interface SacResult {
  agent: SacAgent;
  /** The replay buffer at the end (normalised actions). */
  buffer: ReplayBuffer;
  /** Deterministic evaluations on the task's evalEnv (empty without one). */
  evaluations: Evaluation[];
  /** The value network's parameters (empty when disabled): SGFT's V_sim. */
  valueParams: Float64Array;
  /** V(s) for n observations. */
  value: (obs: Float64Array, n: number, out: Float64Array) => void;
  checkpoint: () => SacCheckpoint;
  steps: number;
  episodes: number;
}

/**
 * Train SAC on `task` for `totalSteps` environment steps. `init` continues from a checkpoint's parameters
 * (fresh optimisers and buffer). Deterministic for the state of `rng` and of the task's envs.
 */
export function trainSac(
  task: RlTask,
  config: SacConfigInput,
  rng: Rng,
  onMetrics?: RlMetricsCallback,
  init?: SacCheckpoint,
): SacResult {
  const cfg = SacConfigSchema.parse(config);
  const env = task.env;
  const { n, obsSize: dS, actionSize: dA } = env;
  if (task.actionSpace.low.length !== dA)
    throw new RangeError(`actionSpace has ${task.actionSpace.low.length} dimensions, the env ${dA}`);
  const agent =
    init === undefined
      ? new SacAgent(dS, task.actionSpace, cfg, rng.split())
      : SacAgent.fromCheckpoint(init, cfg, rng.split());
  if (agent.obsSize !== dS)
    throw new RangeError(`checkpoint is for ${agent.obsSize} observations, the env has ${dS}`);
  const exploreRng = rng.split();
  const sampleRng = rng.split();
  const buffer = new ReplayBuffer(cfg.bufferSize, dS, dA);
  const batch = allocBatch(cfg.batchSize, dS, dA);
  const aNorm = new Float64Array(n * dA);
  const aEnv = new Float64Array(n * dA);
  const obs = Float64Array.from(env.reset());
  const epReturn = new Float64Array(n);
  const epLength = new Float64Array(n);
  // interval accumulators
  let doneReturns = 0;
  let doneLengths = 0;
  let doneCount = 0;
  let nUpd = 0;
  const acc = { criticLoss: 0, actorLoss: 0, alphaLoss: 0, valueLoss: 0, alpha: 0, entropy: 0, q: 0 };
  let episodes = 0;
  let steps = 0;

  const evaluator = new Evaluator(task, (o, m, out) => agent.act(o, m, out, true), onMetrics);

  while (steps < cfg.totalSteps) {
    if (steps < cfg.learningStarts) {
      for (let i = 0; i < n * dA; i++) aNorm[i] = 2 * exploreRng.uniform() - 1;
    } else {
      agent.actNormalised(obs, n, aNorm, false, exploreRng);
    }
    agent.toEnvAction(aNorm, n, aEnv);
    const res = env.step(aEnv);
    buffer.addStep(obs, aNorm, res);
    for (let i = 0; i < n; i++) {
      const ended = res.terminated[i] === 1 || res.truncated[i] === 1;
      epReturn[i] += res.reward[i];
      epLength[i]++;
      if (ended) {
        doneReturns += epReturn[i];
        doneLengths += epLength[i];
        doneCount++;
        episodes++;
        epReturn[i] = 0;
        epLength[i] = 0;
      }
    }
    obs.set(res.obs);
    const before = steps;
    steps += n;
    agent.steps += n;
    if (steps >= cfg.learningStarts) {
      for (let g = 0; g < cfg.gradientSteps; g++) {
        buffer.sample(sampleRng, cfg.batchSize, batch);
        const s = agent.update(batch);
        nUpd++;
        acc.criticLoss += s.criticLoss;
        acc.actorLoss += s.actorLoss;
        acc.alphaLoss += s.alphaLoss;
        acc.valueLoss += s.valueLoss;
        acc.alpha += s.alpha;
        acc.entropy += s.entropy;
        acc.q += s.q;
      }
    }
    if (
      Math.floor(steps / cfg.logInterval) > Math.floor(before / cfg.logInterval) ||
      steps >= cfg.totalSteps
    ) {
      const m: Record<string, number> = { "train/episodes": episodes, "train/updates": agent.updates };
      if (doneCount > 0) {
        m["train/episodeReturn"] = doneReturns / doneCount;
        m["train/episodeLength"] = doneLengths / doneCount;
      }
      if (nUpd > 0) {
        m["loss/critic"] = acc.criticLoss / nUpd;
        m["loss/actor"] = acc.actorLoss / nUpd;
        m["loss/alpha"] = acc.alphaLoss / nUpd;
        if (agent.valueNet !== null) m["loss/value"] = acc.valueLoss / nUpd;
        m["train/alpha"] = acc.alpha / nUpd;
        m["train/entropy"] = acc.entropy / nUpd;
        m["train/q"] = acc.q / nUpd;
      }
      onMetrics?.(steps, m);
      doneReturns = 0;
      doneLengths = 0;
      doneCount = 0;
      nUpd = 0;
      for (const k of Object.keys(acc) as (keyof typeof acc)[]) acc[k] = 0;
    }
    if (cfg.evalInterval > 0 && Math.floor(steps / cfg.evalInterval) > Math.floor(before / cfg.evalInterval))
      evaluator.run(steps);
  }
  evaluator.final(steps);
  return {
    agent,
    buffer,
    evaluations: evaluator.evaluations,
    valueParams: agent.valueParams,
    value: (o, m, out) => agent.value(o, m, out),
    checkpoint: () => agent.checkpoint(),
    steps,
    episodes,
  };
}
