/**
 * The real-world fine-tuning loop every SGFT variant and baseline shares (sgft-paper.md Algorithm 1's
 * outer structure): act in the "real" system, record every transition (counted), update the learner,
 * evaluate its deterministic policy every `evalInterval` real steps on separately seeded evaluation
 * episodes (not counted: in a sim-to-sim benchmark they measure, they do not train). The first
 * `initialSteps` real steps only collect data with the policy carried over from simulation (the paper
 * pre-collects 20 trajectories before fine-tuning; Appendix C).
 *
 * Actions go to the real system in env units, inside its action box (the SAC learners squash into it).
 * The core never prints: metrics go to `onMetrics` with grouped keys (`real/…`, `loss/…`, `sgft/…`).
 */
import { z } from "zod";
import { ReplayBuffer } from "../inner/replay-buffer.ts";
import { evaluateEpisodes, fixedStarts, type RlMetricsCallback, type RlTask } from "../inner/rl-common.ts";
import type { Rng } from "../math/rng.ts";
import type { SimBundle } from "./sim-bundle.ts";

export const FinetuneCommonSchema = z.object({
  realSteps: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("Real-system transitions to collect (the budget)"),
  initialSteps: z
    .number()
    .int()
    .nonnegative()
    .default(400)
    .describe("Real transitions collected with the sim policy before the first update (counted)"),
  batchSize: z.number().int().positive().default(256).describe("Real transitions per gradient update"),
  utd: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("Gradient updates per real transition (update-to-data ratio)"),
  gamma: z.number().gt(0).lt(1).default(0.99).describe("Discount γ (must be V_sim's)"),
  actorLr: z.number().positive().default(3e-4).describe("Adam step size of the actor"),
  criticLr: z.number().positive().default(3e-4).describe("Adam step size of the critics"),
  bufferSize: z.number().int().positive().default(1_000_000).describe("Real replay capacity"),
  evalInterval: z.number().int().positive().default(1000).describe("Real steps between evaluations"),
  logInterval: z.number().int().positive().default(1000).describe("Real steps between loss reports"),
});
export type FinetuneCommon = z.infer<typeof FinetuneCommonSchema>;

/** What a fine-tuning method plugs into the loop. Actions in env units. */
export interface FinetuneLearner {
  /** Exploring action for n observations (drawn with `rng`). */
  act(obs: Float64Array, n: number, out: Float64Array, rng: Rng): void;
  /** The policy that is evaluated. */
  actDeterministic(obs: Float64Array, n: number, out: Float64Array): void;
  /** One gradient update from the real buffer (env-unit actions, raw rewards); returns its metrics. */
  update(buffer: ReplayBuffer): Record<string, number>;
  /** The underlying agent, for checkpoints. */
  readonly agent?: unknown;
}

export interface FinetuneArgs {
  /** The "real" system (`env`) and its evaluation copies (`evalEnv`, required). */
  task: RlTask;
  /** What simulation produced: SAC checkpoint with V_sim, and the dynamics model. */
  bundle: SimBundle;
  rng: Rng;
  onMetrics?: RlMetricsCallback;
}

/** One evaluation: real transitions used so far and the deterministic policy's mean return. */
export interface FinetunePoint {
  realTransitions: number;
  return: number;
  std: number;
}

export interface FinetuneResult {
  points: FinetunePoint[];
  realTransitions: number;
  learner: FinetuneLearner;
}

export function runFinetune(
  args: FinetuneArgs,
  cfg: FinetuneCommon,
  learner: FinetuneLearner,
): FinetuneResult {
  const { task, onMetrics } = args;
  const env = task.env;
  const evalEnv = task.evalEnv;
  if (evalEnv === undefined) throw new RangeError("runFinetune: the task needs an evalEnv");
  const { n, obsSize: dS, actionSize: dA } = env;
  const exploreRng = args.rng.split();
  const buffer = new ReplayBuffer(cfg.bufferSize, dS, dA);
  const aEnv = new Float64Array(n * dA);
  const obs = Float64Array.from(env.reset());
  const points: FinetunePoint[] = [];
  // Every evaluation starts from the same initial states (common random numbers): differences between
  // evaluations are the policy's, not the start states'.
  const restoreStarts = fixedStarts(evalEnv as { rngs?: readonly Rng[] });
  const evaluate = (steps: number) => {
    restoreStarts();
    const res = evaluateEpisodes(evalEnv, (o, m, out) => learner.actDeterministic(o, m, out));
    points.push({ realTransitions: steps, return: res.mean, std: res.std });
    onMetrics?.(steps, { "real/return": res.mean, "real/returnStd": res.std, "real/transitions": steps });
  };
  evaluate(0);
  let steps = 0;
  const acc: Record<string, number> = {};
  let nUpd = 0;
  while (steps < cfg.realSteps) {
    learner.act(obs, n, aEnv, exploreRng);
    const res = env.step(aEnv);
    buffer.addStep(obs, aEnv, res);
    obs.set(res.obs);
    const before = steps;
    steps += n;
    if (steps >= cfg.initialSteps && buffer.size >= Math.min(cfg.batchSize, cfg.initialSteps || 1)) {
      for (let u = 0; u < cfg.utd * n; u++) {
        const m = learner.update(buffer);
        for (const [k, v] of Object.entries(m)) acc[k] = (acc[k] ?? 0) + v;
        nUpd++;
      }
    }
    if (Math.floor(steps / cfg.logInterval) > Math.floor(before / cfg.logInterval) && nUpd > 0) {
      const m: Record<string, number> = { "real/transitions": steps };
      for (const [k, v] of Object.entries(acc)) m[k] = v / nUpd;
      onMetrics?.(steps, m);
      for (const k of Object.keys(acc)) delete acc[k];
      nUpd = 0;
    }
    if (
      Math.floor(steps / cfg.evalInterval) > Math.floor(before / cfg.evalInterval) ||
      steps >= cfg.realSteps
    )
      evaluate(steps);
  }
  return { points, realTransitions: steps, learner };
}
