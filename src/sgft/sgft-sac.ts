/**
 * SGFT-SAC: Dyna-SGFT (sgft-paper.md Algorithm 2) with SAC as the base learner (§6.1, Appendix C).
 *
 * Fine-tuning in the real system starts from what simulation produced (src/sgft/sim-bundle.ts): the SAC
 * actor, the frozen value function V_sim and the delta-dynamics model p̂. Each gradient update:
 *
 * 1. draws B real transitions (s, a, r, s′, d) from the real replay buffer;
 * 2. branches `branches` synthetic actions ã ~ π(·|s) from every sampled real state (Appendix C: 5);
 * 3. scores every row by the H-step relabelled return of eq. (1): the row's first step (real for the real
 *    rows, the model's for the branches), then H − 1 model steps under π, each rewarded with
 *    r̃ = r + γ·c·V_sim(s′) − V_sim(s) (c the model's continuation probability) and the soft bonus
 *    −α log π of SAC for the steps after the first:
 *
 *      y = Σ_{k<H} γ^k C_k (r̃_k − [k ≥ 1] α log π(a_k|s_k)),   C_k = Π_{i<k} c_i;
 *
 *    the segment ends after H steps with `done` = 1 (§6.1): the target never contains a critic, so the
 *    critic "does not bootstrap its own critic from the real-world data and only uses V_sim to bootstrap
 *    long-horizon returns". For H = 1 the real rows' target is r̃ alone, exactly the paper's instantiation;
 * 4. regresses both critics on all B·(1 + branches) rows (no target networks: nothing bootstraps);
 * 5. one actor step of SAC on the B real states, with a FIXED temperature α (Appendix C: 0.01);
 * 6. `modelUpdates` Adam steps of p̂ on the real buffer (the model is trained jointly, Appendix C).
 *
 * Options the paper fixes, documented here: pre-collected episodes with the sim policy before any update
 * (Appendix C: 20 trajectories; counted as real transitions), the critic reset at the start (default on),
 * actor and model carried over from simulation. Real-system actions are the squashed policy's, mapped into
 * the action box (never outside it).
 */
import { z } from "zod";
import { allocBatch, type ReplayBuffer, type TransitionBatch } from "../inner/replay-buffer.ts";
import { SacAgent } from "../inner/sac.ts";
import type { Rng } from "../math/rng.ts";
import { DeltaDynamicsModel, type DynamicsModelConfigInput } from "./dynamics-model.ts";
import {
  type FinetuneArgs,
  FinetuneCommonSchema,
  type FinetuneLearner,
  type FinetuneResult,
  runFinetune,
} from "./finetune.ts";
import type { SimBundle } from "./sim-bundle.ts";
import { valueFromCheckpoint } from "./sim-bundle.ts";
import type { ValueFn } from "./types.ts";

export const SgftSacConfigSchema = FinetuneCommonSchema.extend({
  horizon: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("H: real-world search horizon of eq. (1) (the paper: 1)"),
  branches: z
    .number()
    .int()
    .nonnegative()
    .default(5)
    .describe("Synthetic model branches per sampled real state (Appendix C: 5)"),
  branchActions: z
    .enum(["policy", "uniform"])
    .default("policy")
    .describe(
      "First actions of the model branches: drawn from π (the paper) or uniformly over the action box (covers the actions π does not try, so the critic learns ∂Q/∂a where the data would otherwise confound it with the state)",
    ),
  alpha: z
    .number()
    .positive()
    .default(0.01)
    .describe("Fixed SAC temperature during fine-tuning (Appendix C: 0.01)"),
  resetCritic: z
    .boolean()
    .default(true)
    .describe("Re-initialise the critics before fine-tuning (Appendix C)"),
  actorDelay: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe(
      "Gradient updates that train only the (reset) critics and the model before the actor moves, so a random critic does not steer the sim actor (not in the paper)",
    ),
  bcWeight: z
    .number()
    .nonnegative()
    .default(0)
    .describe(
      "λ of a behaviour-cloning term λ·mean‖ã − π_sim(s)‖² (normalised actions) in the actor loss, keeping the actor near the sim policy where the short-horizon critic is unreliable (not in the paper; 0 = off)",
    ),
  modelUpdates: z
    .number()
    .int()
    .nonnegative()
    .default(1)
    .describe("Adam steps of the dynamics model per gradient update (trained jointly)"),
  model: z
    .object({ lr: z.number().positive().default(1e-3), batchSize: z.number().int().positive().default(256) })
    .prefault({})
    .describe("Fine-tuning settings of the dynamics model (its shape comes from the sim bundle)"),
}).describe("SGFT-SAC (Dyna-SGFT with SAC, sgft-paper.md Algorithm 2)");
export type SgftSacConfig = z.infer<typeof SgftSacConfigSchema>;
export type SgftSacConfigInput = z.input<typeof SgftSacConfigSchema>;

/** Scratch for the targets of one update (grown on demand). */
export interface TargetScratch {
  obs: Float64Array;
  aNorm: Float64Array;
  y: Float64Array;
  cur: Float64Array;
  next: Float64Array;
  aStep: Float64Array;
  aEnv: Float64Array;
  logp: Float64Array;
  w: Float64Array;
  vCur: Float64Array;
  vNext: Float64Array;
  rHat: Float64Array;
  cont: Float64Array;
}

export function targetScratch(rows: number, dS: number, dA: number): TargetScratch {
  return {
    obs: new Float64Array(rows * dS),
    aNorm: new Float64Array(rows * dA),
    y: new Float64Array(rows),
    cur: new Float64Array(rows * dS),
    next: new Float64Array(rows * dS),
    aStep: new Float64Array(rows * dA),
    aEnv: new Float64Array(rows * dA),
    logp: new Float64Array(rows),
    w: new Float64Array(rows),
    vCur: new Float64Array(rows),
    vNext: new Float64Array(rows),
    rHat: new Float64Array(rows),
    cont: new Float64Array(rows),
  };
}

/**
 * Step 2–3 of the header: fills `sc.obs`, `sc.aNorm` (normalised actions, critic input) and `sc.y` for
 * the real rows (the first `real.size`: env-unit actions, the real reward not yet relabelled) followed by `branches` model branches per real state; returns the number
 * of rows. `value` is V_sim; the policy and the action box are the agent's.
 */
export function sgftTargets(
  agent: SacAgent,
  model: DeltaDynamicsModel | { predict: DeltaDynamicsModel["predict"] },
  value: ValueFn,
  real: TransitionBatch,
  horizon: number,
  branches: number,
  gamma: number,
  alpha: number,
  rng: Rng,
  sc: TargetScratch,
  branchActions: "policy" | "uniform" = "policy",
): number {
  const dS = agent.obsSize;
  const dA = agent.actionSize;
  const B = real.size;
  const M = B * (1 + branches);
  const { obs, aNorm, y, cur, next, aStep, aEnv, logp, w, vCur, vNext, rHat, cont } = sc;
  const lo = agent.box.low;
  const hi = agent.box.high;
  // Real rows: the real first step.
  obs.set(real.obs.subarray(0, B * dS));
  for (let r = 0; r < B; r++)
    for (let j = 0; j < dA; j++) {
      const c = 0.5 * (hi[j] + lo[j]);
      const h = 0.5 * (hi[j] - lo[j]);
      aNorm[r * dA + j] = (real.actions[r * dA + j] - c) / h;
    }
  value(real.obs, B, vCur);
  value(real.nextObs, B, vNext);
  for (let r = 0; r < B; r++) {
    const term = real.terminated[r];
    y[r] = real.rewards[r] + gamma * (1 - term) * vNext[r] - vCur[r];
    w[r] = gamma * (1 - term);
  }
  cur.set(real.nextObs.subarray(0, B * dS));
  // Branch rows: ã ~ π(·|s_j), the model's first step.
  if (branches > 0) {
    const nb = B * branches;
    for (let b = 0; b < branches; b++) obs.set(real.obs.subarray(0, B * dS), (B + b * B) * dS);
    const bObs = obs.subarray(B * dS, M * dS);
    const bA = aNorm.subarray(B * dA, M * dA);
    if (branchActions === "policy") agent.policy.sample(agent.actorParams, bObs, nb, rng, bA, logp);
    else for (let i = 0; i < nb * dA; i++) bA[i] = 2 * rng.uniform() - 1;
    agent.toEnvAction(bA, nb, aEnv);
    model.predict(bObs, aEnv, nb, next, rHat, cont);
    value(bObs, nb, vCur);
    value(next, nb, vNext);
    for (let i = 0; i < nb; i++) {
      const r = B + i;
      y[r] = rHat[i] + gamma * cont[i] * vNext[i] - vCur[i];
      w[r] = gamma * cont[i];
    }
    cur.set(next.subarray(0, nb * dS), B * dS);
  }
  // H − 1 more model steps under π for every row; the segment then ends (done at H: no bootstrap).
  for (let k = 1; k < horizon; k++) {
    agent.policy.sample(agent.actorParams, cur, M, rng, aStep, logp);
    agent.toEnvAction(aStep, M, aEnv);
    model.predict(cur, aEnv, M, next, rHat, cont);
    value(cur, M, vCur);
    value(next, M, vNext);
    for (let r = 0; r < M; r++) {
      const shaped = rHat[r] + gamma * cont[r] * vNext[r] - vCur[r];
      y[r] += w[r] * (shaped - alpha * logp[r]);
      w[r] *= gamma * cont[r];
    }
    cur.set(next.subarray(0, M * dS));
  }
  return M;
}

/** The SGFT-SAC learner for the common fine-tuning loop (finetune.ts). */
export function sgftSacLearner(bundle: SimBundle, config: SgftSacConfigInput, rng: Rng): FinetuneLearner {
  const cfg = SgftSacConfigSchema.parse(config);
  const agent = SacAgent.fromCheckpoint(
    bundle.sac,
    { learnAlpha: false, actorLr: cfg.actorLr, criticLr: cfg.criticLr, gamma: cfg.gamma },
    rng.split(),
  );
  if (cfg.resetCritic) agent.resetCritics(rng.split());
  agent.setAlpha(cfg.alpha);
  const model = DeltaDynamicsModel.fromJson(
    bundle.model,
    cfg.model satisfies DynamicsModelConfigInput,
    rng.split(),
  );
  const value = valueFromCheckpoint(bundle.sac);
  const updRng = rng.split();
  const modelRng = rng.split();
  const dS = agent.obsSize;
  const dA = agent.actionSize;
  const B = cfg.batchSize;
  const sc = targetScratch(B * (1 + cfg.branches), dS, dA);
  let updates = 0;
  const real = allocBatch(B, dS, dA);
  // The frozen sim actor's deterministic actions (tanh μ_sim: zero noise) anchor the actor when bcWeight > 0.
  const simActor = cfg.bcWeight > 0 ? Float64Array.from(agent.actorParams) : null;
  const zeroNoise = new Float64Array(B * dA);
  const anchorActions = new Float64Array(B * dA);
  const anchorLogp = new Float64Array(B);
  return {
    agent,
    act: (obs, n, out, r) => agent.act(obs, n, out, false, r),
    actDeterministic: (obs, n, out) => agent.act(obs, n, out, true),
    update(buffer: ReplayBuffer) {
      // 1. B real transitions
      buffer.sample(updRng, B, real);
      // 2–3. targets over real rows and branches
      const M = sgftTargets(
        agent,
        model,
        value,
        real,
        cfg.horizon,
        cfg.branches,
        cfg.gamma,
        cfg.alpha,
        updRng,
        sc,
        cfg.branchActions,
      );
      let yMean = 0;
      for (let r = 0; r < M; r++) yMean += sc.y[r] / M;
      // 4–5. critics on every row, actor on the real states
      const criticLoss = agent.criticStep(sc.obs, sc.aNorm, sc.y, M);
      updates++;
      let anchor: { actions: Float64Array; weight: number } | undefined;
      if (simActor !== null) {
        agent.policy.sample(simActor, real.obs, B, zeroNoise, anchorActions, anchorLogp);
        anchor = { actions: anchorActions, weight: cfg.bcWeight };
      }
      const actorLoss =
        updates > cfg.actorDelay ? agent.actorAlphaStep(real.obs, B, anchor).actorLoss : Number.NaN;
      // 6. the model, jointly
      const modelLoss = cfg.modelUpdates > 0 ? model.fit(buffer, cfg.modelUpdates, modelRng) : Number.NaN;
      return {
        "loss/critic": criticLoss,
        "loss/actor": actorLoss,
        "loss/model": modelLoss,
        "sgft/target": yMean,
      };
    },
  };
}

/** Fine-tune with SGFT-SAC on `args.task` (the "real" system). */
export function runSgftSac(args: FinetuneArgs, config: SgftSacConfigInput): FinetuneResult {
  const cfg = SgftSacConfigSchema.parse(config);
  return runFinetune(args, cfg, sgftSacLearner(args.bundle, cfg, args.rng.split()));
}
