/**
 * Training a policy on a named control task (optionally with gaps: training "in reality") with SAC or
 * PPO, as `sim2real train` does: per-task default settings, one validated config, seeded envs, the closing
 * deterministic evaluation and the policy file (checkpoint-file.ts). Reports metrics through a callback;
 * never prints or writes.
 *
 * Defaults are those of the committed learning checks (docs/results/rl/): SAC as
 * scripts/eval-sac-pendulum.ts (2×64 relu, lr 1e-3 for actor, critics and α, batch 256, 1000 random steps,
 * 100k replay, one update per step; −96 … −168 on the pendulum at 20k steps in 5/5 seeds), PPO as
 * scripts/eval-ppo-cartpole.ts (8 envs × 32 steps per rollout, 20 epochs, minibatch 64, γ 0.98, λ 0.8,
 * lr 1e-3 annealed, 2×64 tanh; 500/500 on the cart-pole from 20k–40k steps in 5/5 seeds). Per task only
 * the step budget changes (`TRAIN_STEPS`).
 *
 * Seeding: the seed's root stream draws one seed each for the training envs, the evaluation envs during
 * training and the learner (sibling `split()` streams would overlap once split again inside VecEnv and the
 * learners: xoroshiro jumps are linear).
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import type { Gap } from "../envs/control/gaps.ts";
import { VecEnv } from "../envs/control/vec-env.ts";
import { type DisposableEnv, envNames, makeAnyEnv, taskSuccess } from "../envs/make-env.ts";
import { resolveSpec } from "../experiments/resolve.ts";
import { PpoConfigSchema, trainPpo } from "../inner/ppo.ts";
import type { Evaluation, RlMetricsCallback, RlTask } from "../inner/rl-common.ts";
import { SacConfigSchema, trainSac } from "../inner/sac.ts";
import { Rng } from "../math/rng.ts";
import { POLICY_FILE_FORMAT, POLICY_FILE_VERSION, type PolicyFile } from "./checkpoint-file.ts";
import { EVAL_DEFAULTS, evaluatePolicy } from "./evaluate.ts";

export const TRAIN_ALGOS = ["sac", "ppo"] as const;
export type TrainAlgo = (typeof TRAIN_ALGOS)[number];

const trainFields = (nEnvs: number) => ({
  nEnvs: z
    .number()
    .int()
    .positive()
    .default(nEnvs)
    .describe("Training env copies stepped together (SAC: 1; PPO: 8, rl-zoo's cart-pole setting)"),
  evalEpisodes: z
    .number()
    .int()
    .positive()
    .default(10)
    .describe("Episodes of each deterministic evaluation during training"),
});

/** SAC's settings plus the training loop's. */
export const SacTrainConfigSchema = SacConfigSchema.extend(trainFields(1));
/** PPO's settings plus the training loop's. */
export const PpoTrainConfigSchema = PpoConfigSchema.extend(trainFields(8));
export type SacTrainConfig = z.infer<typeof SacTrainConfigSchema>;
export type PpoTrainConfig = z.infer<typeof PpoTrainConfigSchema>;
export type TrainConfig = SacTrainConfig | PpoTrainConfig;

/** SAC settings (scripts/eval-sac-pendulum.ts uses these too). */
const SAC_BASE = {
  hidden: [64, 64],
  actorLr: 1e-3,
  criticLr: 1e-3,
  alphaLr: 1e-3,
  learningStarts: 1000,
  bufferSize: 100_000,
  evalInterval: 2000,
  logInterval: 1000,
};

/** PPO settings (scripts/eval-ppo-cartpole.ts uses these too). */
const PPO_BASE = {
  nSteps: 32,
  epochs: 20,
  minibatchSize: 64,
  gamma: 0.98,
  lambda: 0.8,
  actorLr: 1e-3,
  criticLr: 1e-3,
  annealLr: true,
  evalInterval: 20_000,
};

/**
 * Default step budgets per task and algorithm. Measured: SAC pendulum −200 or better within 20k steps
 * (docs/results/rl/sac-pendulum.md), PPO cart-pole 500 from 20k–40k steps (ppo-cartpole.md). The other
 * entries are budgets of the same order, not learning checks.
 */
export const TRAIN_STEPS: Readonly<Record<string, Readonly<Record<TrainAlgo, number>>>> = Object.freeze({
  pendulum: { sac: 20_000, ppo: 300_000 },
  cartpole: { sac: 20_000, ppo: 100_000 },
  reacher: { sac: 20_000, ppo: 300_000 },
  "mj-pendulum": { sac: 20_000, ppo: 300_000 },
  "mj-cartpole": { sac: 20_000, ppo: 100_000 },
  "mj-puck": { sac: 100_000, ppo: 300_000 },
});

/** The default settings of `algo` on `env` (the first layer under a config file and the flags). */
export function trainDefaults(env: string, algo: TrainAlgo): Record<string, unknown> {
  const steps = TRAIN_STEPS[env]?.[algo] ?? (algo === "sac" ? 20_000 : 300_000);
  return { ...(algo === "sac" ? SAC_BASE : PPO_BASE), totalSteps: steps };
}

/**
 * The resolved training config: `trainDefaults`, then a config file's contents (any field of the
 * algorithm's schema, plus nEnvs / evalEpisodes), then `overrides` (e.g. totalSteps from --steps).
 * Unknown fields and invalid values are one InputError listing them.
 */
export function resolveTrainConfig(
  env: string,
  algo: TrainAlgo,
  file?: unknown,
  overrides: { totalSteps?: number } = {},
): TrainConfig {
  const schema = algo === "sac" ? SacTrainConfigSchema : PpoTrainConfigSchema;
  return resolveSpec(schema, `${algo} on ${env}`, trainDefaults(env, algo), overrides, file) as TrainConfig;
}

export interface TrainSpec {
  env: string;
  gaps: readonly Gap[];
  algo: TrainAlgo;
  seed: number;
  /** Resolved (resolveTrainConfig). */
  config: TrainConfig;
}

/** Draws a 31-bit seed from `root` for one component. */
function childSeed(root: Rng): number {
  return Math.floor(root.uniform() * 2 ** 31);
}

/**
 * Train `spec.algo` on `spec.env` with `spec.gaps` and return the policy file: the agent, the resolved
 * config, the evaluations during training and the closing deterministic evaluation (EVAL_DEFAULTS: 20
 * episodes from eval seed 0 on the same env and gaps). Deterministic for the spec.
 */
export async function trainPolicy(spec: TrainSpec, onMetrics?: RlMetricsCallback): Promise<PolicyFile> {
  if (!envNames().includes(spec.env))
    throw new InputError(`unknown env '${spec.env}'; known: ${envNames().join(", ")}`, "env");
  if (!Number.isSafeInteger(spec.seed))
    throw new InputError(`seed must be an integer, got ${spec.seed}`, "seed");
  const envs: DisposableEnv[] = [];
  const make = async () => {
    const e = await makeAnyEnv(spec.env, spec.gaps, "--env", "--gap");
    envs.push(e);
    return e;
  };
  try {
    const [trainEnv, evalEnv, finalEnv] = [await make(), await make(), await make()];
    const cfg = spec.config;
    const root = Rng.fromSeed(spec.seed);
    const task: RlTask = {
      env: new VecEnv(trainEnv, {}, cfg.nEnvs, Rng.fromSeed(childSeed(root))),
      actionSpace: trainEnv.actionSpace,
      evalEnv: new VecEnv(evalEnv, {}, cfg.evalEpisodes, Rng.fromSeed(childSeed(root))),
    };
    const learnerRng = Rng.fromSeed(childSeed(root));
    const { nEnvs: _n, evalEpisodes: _e, ...algoCfg } = cfg;
    let steps: number;
    let history: Evaluation[];
    let agentFile: PolicyFile["agent"];
    let act: (obs: Float64Array, n: number, out: Float64Array) => void;
    if (spec.algo === "sac") {
      const res = trainSac(task, algoCfg as z.input<typeof SacConfigSchema>, learnerRng, onMetrics);
      steps = res.steps;
      history = res.evaluations;
      agentFile = res.checkpoint();
      act = (o, n, out) => res.agent.act(o, n, out, true);
    } else {
      const res = trainPpo(task, algoCfg as z.input<typeof PpoConfigSchema>, learnerRng, onMetrics);
      steps = res.steps;
      history = res.evaluations;
      agentFile = res.checkpoint();
      act = (o, n, out) => res.agent.act(o, n, out, true);
    }
    const evaluation = evaluatePolicy(
      finalEnv,
      act,
      EVAL_DEFAULTS.episodes,
      EVAL_DEFAULTS.seed,
      await taskSuccess(spec.env),
    );
    return {
      format: POLICY_FILE_FORMAT,
      version: POLICY_FILE_VERSION,
      algo: spec.algo,
      env: spec.env,
      gaps: spec.gaps.map((g) => g.label),
      seed: spec.seed,
      steps,
      config: { ...cfg },
      evaluation,
      history: history.map((h) => ({ step: h.step, mean: h.mean, std: h.std, length: h.length })),
      agent: agentFile,
    } as PolicyFile;
  } finally {
    for (const e of envs) e.dispose();
  }
}
