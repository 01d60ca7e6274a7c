/**
 * The model-free fine-tuning baselines of issue 8, on the same loop and budgets as SGFT (finetune.ts):
 *
 * - `sac`: SAC fine-tuning on the original objective (sgft-paper.md §6.2's "SAC" baseline): actor, critics
 *   and temperature carried over from simulation, standard SAC updates (bootstrapped targets, learned α)
 *   on the real buffer;
 * - `pbrs-sac`: potential-based shaping without horizon shortening — SAC on r̃ = r + γV_sim(s′) − V_sim(s)
 *   with ordinary bootstrapping over the infinite horizon (the paper's PBRS-SAC). The critics are reset
 *   (the reward changed, the simulator's critics estimate the other one) and α is fixed as in SGFT-SAC, so
 *   the only differences from SGFT-SAC are the horizon and the model.
 */
import { z } from "zod";
import { allocBatch, type ReplayBuffer } from "../inner/replay-buffer.ts";
import { SacAgent } from "../inner/sac.ts";
import type { Rng } from "../math/rng.ts";
import {
  type FinetuneArgs,
  FinetuneCommonSchema,
  type FinetuneLearner,
  type FinetuneResult,
  runFinetune,
} from "./finetune.ts";
import { type SimBundle, valueFromCheckpoint } from "./sim-bundle.ts";

export const SacFinetuneConfigSchema = FinetuneCommonSchema.extend({
  shaping: z
    .boolean()
    .default(false)
    .describe("Relabel rewards with V_sim as the potential (PBRS-SAC) instead of the original reward (SAC)"),
  resetCritic: z.boolean().default(false).describe("Re-initialise the critics before fine-tuning"),
  alpha: z
    .union([z.literal("learn"), z.number().positive()])
    .default("learn")
    .describe("Temperature: keep learning it from the sim value ('learn') or fix it"),
  tau: z.number().gt(0).max(1).default(0.005).describe("Polyak rate of the target critics"),
}).describe("SAC fine-tuning in the real system (optionally with PBRS reward shaping)");
export type SacFinetuneConfigInput = z.input<typeof SacFinetuneConfigSchema>;

/** Settings of the two named baselines. */
export const SAC_FINETUNE_PRESETS = {
  sac: { shaping: false, resetCritic: false, alpha: "learn" },
  "pbrs-sac": { shaping: true, resetCritic: true, alpha: 0.01 },
} as const satisfies Record<string, SacFinetuneConfigInput>;

export function sacFinetuneLearner(
  bundle: SimBundle,
  config: SacFinetuneConfigInput,
  rng: Rng,
): FinetuneLearner {
  const cfg = SacFinetuneConfigSchema.parse(config);
  const agent = SacAgent.fromCheckpoint(
    bundle.sac,
    {
      learnAlpha: cfg.alpha === "learn",
      actorLr: cfg.actorLr,
      criticLr: cfg.criticLr,
      gamma: cfg.gamma,
      tau: cfg.tau,
      value: { enabled: false },
    },
    rng.split(),
  );
  if (cfg.resetCritic) agent.resetCritics(rng.split());
  if (cfg.alpha !== "learn") agent.setAlpha(cfg.alpha);
  const value = cfg.shaping ? valueFromCheckpoint(bundle.sac) : null;
  const sampleRng = rng.split();
  const dS = agent.obsSize;
  const dA = agent.actionSize;
  const B = cfg.batchSize;
  const batch = allocBatch(B, dS, dA);
  const v0 = new Float64Array(B);
  const v1 = new Float64Array(B);
  const center = Float64Array.from({ length: dA }, (_, j) => 0.5 * (agent.box.high[j] + agent.box.low[j]));
  const half = Float64Array.from({ length: dA }, (_, j) => 0.5 * (agent.box.high[j] - agent.box.low[j]));
  return {
    agent,
    act: (obs, n, out, r) => agent.act(obs, n, out, false, r),
    actDeterministic: (obs, n, out) => agent.act(obs, n, out, true),
    update(buffer: ReplayBuffer) {
      buffer.sample(sampleRng, B, batch);
      for (let i = 0; i < B * dA; i++) batch.actions[i] = (batch.actions[i] - center[i % dA]) / half[i % dA];
      if (value !== null) {
        value(batch.obs, B, v0);
        value(batch.nextObs, B, v1);
        for (let r = 0; r < B; r++) batch.rewards[r] += cfg.gamma * (1 - batch.terminated[r]) * v1[r] - v0[r];
      }
      const s = agent.update(batch);
      return { "loss/critic": s.criticLoss, "loss/actor": s.actorLoss, "train/alpha": s.alpha };
    },
  };
}

/** SAC or PBRS-SAC fine-tuning (pick with `SAC_FINETUNE_PRESETS`). */
export function runSacFinetune(args: FinetuneArgs, config: SacFinetuneConfigInput): FinetuneResult {
  const cfg = SacFinetuneConfigSchema.parse(config);
  return runFinetune(args, cfg, sacFinetuneLearner(args.bundle, cfg, args.rng.split()));
}
