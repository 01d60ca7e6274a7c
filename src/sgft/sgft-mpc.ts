/**
 * MPC-SGFT (sgft-paper.md Algorithm 3; §6.1 "SGFT-TDMPC-2"): on the real system, act with the MPPI
 * controller π̂*_H over the current learned model p̂ (mppi.ts), with the simulator's value V_sim frozen as
 * the terminal value and the simulator's policy as the sampler's prior; record every real transition;
 * refit p̂ on all real data; repeat.
 *
 * The loop, one real step at a time (the real env is a VecEnv with n = 1):
 *   a_t = MPPI(s_t) (the first `initialSteps` steps: the prior's action instead, e.g. the paper's
 *   pre-collected trajectories of π_sim; uniform in the box without a prior);
 *   (s_t, a_t, r_t, s′_t, terminated) → the real buffer (s′ the true final observation at a time-limit
 *   truncation, not the auto-reset one); the planner's warm start is reset at episode ends;
 *   every `fitEvery` real steps (0: at the end of each real episode), and once when the warm-up ends,
 *   `model.fit(buffer, fitUpdates)`.
 * The model must predict from the first planned step (and from the first evaluation when `evalAtStart`):
 * pass the simulator-trained p̂, or use `initialSteps` (and `evalAtStart: false`) for a model that needs
 * real data first.
 * The buffer holds the raw rewards r_t: Algorithm 3's shaped r̃_t = r_t + γV_sim(s′) − V_sim(s) telescopes,
 * over an H-step plan, into the objective MPPI maximises (Σγ^t r_t + γ^H V_sim(s_H) − V_sim(s_0), eq. (1)),
 * so a model of r plus V_sim at the horizon is the same objective, and the model's reward head stays a
 * model of the real system alone.
 *
 * Evaluation (every `evalInterval` real steps, at 0 when `evalAtStart`, and at the end): the MPC policy
 * itself — same planner config, current model — runs one episode in each copy of `evalEnv` (one planner
 * per copy). The eval env's streams and the eval planners' streams are restored to their starting state
 * before each evaluation, so every evaluation faces the same initial states and noise (common random
 * numbers: differences between evaluations are the model's doing). Evaluation steps never count as real
 * transitions (the sim-to-sim benchmark's known real system, as in outer/trace.ts).
 *
 * Metrics (`onMetrics(realTransitions, …)`): `real/return`, `real/returnStd`, `real/length`,
 * `real/transitions` at evaluations; `real/episodeReturn`, `real/episodes` at real episode ends;
 * `model/loss`, `model/fits` after each fit; every `logInterval` steps the planner diagnostics averaged over
 * the planned steps since the last log (`mpc/bestReturn`, `mpc/meanReturn`, `mpc/eliteReturn`,
 * `mpc/planReturn`, `mpc/priorBestReturn`, `mpc/value0`, `mpc/std`, `mpc/advantage` = planReturn − best
 * prior return). Deterministic for the seed of `rng` and the envs' own streams.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import type { Box } from "../envs/control/env.ts";
import type { VecEnv } from "../envs/control/vec-env.ts";
import { ReplayBuffer } from "../inner/replay-buffer.ts";
import {
  evaluateEpisodes,
  fixedStarts,
  type RlMetricsCallback,
  type VecEnvLike,
} from "../inner/rl-common.ts";
import type { Rng } from "../math/rng.ts";
import { Mppi, MppiConfigSchema, type MppiDiagnostics } from "./mppi.ts";
import type { LearnedModel, SampleFn, ValueFn } from "./types.ts";

export const SgftMpcConfigSchema = z
  .object({
    realSteps: z
      .number()
      .int()
      .positive()
      .default(2000)
      .describe("Real env steps; every one is a real transition"),
    initialSteps: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe(
        "First real steps acted by the policy prior (uniform without one) instead of the planner; the model is fitted when they end",
      ),
    fitEvery: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Refit the model every this many real steps; 0: at the end of each real episode"),
    fitUpdates: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe("Gradient updates per refit (model.fit on all real data)"),
    evalInterval: z
      .number()
      .int()
      .nonnegative()
      .default(1000)
      .describe("Evaluate the MPC policy every this many real steps (0: only at the start and end)"),
    evalAtStart: z
      .boolean()
      .default(true)
      .describe("Also evaluate before any real data (the planner over the simulator-trained model)"),
    logInterval: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe("Report averaged planner diagnostics (mpc/…) every this many real steps"),
    bufferSize: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe("Real replay capacity (transitions); the model is fitted on everything stored"),
    mppi: MppiConfigSchema.default(MppiConfigSchema.parse({})).describe("The planner (mppi.ts)"),
  })
  .describe("MPC-SGFT: MPPI over a learned model, V_sim as terminal value, refit on real data (Algorithm 3)");
export type SgftMpcConfig = z.infer<typeof SgftMpcConfigSchema>;
export type SgftMpcConfigInput = z.input<typeof SgftMpcConfigSchema>;

/** A learned model that can be refitted on the real buffer (src/sgft/dynamics-model.ts). */
export interface FittableModel extends LearnedModel {
  /** `updates` fitting steps on mini-batches of `buffer`; returns the loss (for `model/loss`). */
  fit(buffer: ReplayBuffer, updates: number, rng: Rng): number;
}

export interface SgftMpcArgs {
  /** The real system: a VecEnv with n = 1, e.g. `new VecEnv(makeEnv("pendulum", "sgft-friction"), {}, 1, rng)`. */
  realEnv: VecEnvLike & Partial<Pick<VecEnv, "env">>;
  /**
   * Where the MPC policy is evaluated (one episode per copy); none: no `real/return`. A VecEnv's `rngs`
   * are restored before each evaluation (common random numbers); other VecEnvLikes just continue.
   */
  evalEnv?: VecEnvLike & Partial<Pick<VecEnv, "rngs">>;
  /** p̂, refitted in place on real data (start from the simulator-trained one). */
  model: FittableModel;
  /** V_sim, frozen. */
  valueFn: ValueFn;
  /** The policy prior (π_sim) seeding the sampler; none: plain Gaussian MPPI. */
  prior?: SampleFn;
  /** Action box (default: `realEnv.env.actionSpace`; required when realEnv has no `env`). */
  actionSpace?: Box;
  config?: SgftMpcConfigInput;
  rng: Rng;
  onMetrics?: RlMetricsCallback;
}

export interface SgftMpcEvaluation {
  /** Real transitions consumed when it ran (the x-axis of comparisons). */
  realTransitions: number;
  /** Mean undiscounted real return of the MPC policy over the eval episodes, and its std. */
  return: number;
  std: number;
  /** Mean episode length. */
  length: number;
}

export interface SgftMpcResult {
  evaluations: SgftMpcEvaluation[];
  /** The real transitions collected (raw rewards). */
  buffer: ReplayBuffer;
  realTransitions: number;
  episodes: number;
  fits: number;
  /** The loss the last fit returned (NaN if none ran). */
  modelLoss: number;
  config: SgftMpcConfig;
}

const DIAG_KEYS = [
  "bestReturn",
  "meanReturn",
  "eliteReturn",
  "planReturn",
  "priorBestReturn",
  "value0",
  "std",
] as const satisfies readonly (keyof MppiDiagnostics)[];

export function runSgftMpc(args: SgftMpcArgs): SgftMpcResult {
  const cfg = SgftMpcConfigSchema.parse(args.config ?? {});
  const { realEnv, evalEnv, model, valueFn, prior, rng, onMetrics } = args;
  if (realEnv.n !== 1)
    throw new InputError(
      `MPC-SGFT acts on one real system: realEnv must have n = 1, got ${realEnv.n}`,
      "realEnv",
    );
  const box = args.actionSpace ?? realEnv.env?.actionSpace;
  if (box === undefined)
    throw new InputError("MPC-SGFT needs the action box: pass actionSpace or a VecEnv", "actionSpace");
  const dS = realEnv.obsSize;
  const m = realEnv.actionSize;
  if (model.obsSize !== dS || model.actionSize !== m)
    throw new InputError(
      `the model is for ${model.obsSize} observations × ${model.actionSize} actions, the env has ${dS} × ${m}`,
      "model",
    );
  if (evalEnv !== undefined && (evalEnv.obsSize !== dS || evalEnv.actionSize !== m))
    throw new InputError("evalEnv has different observation or action sizes from realEnv", "evalEnv");

  // Independent streams, in a fixed order.
  const planRng = rng.split();
  const warmRng = rng.split();
  const fitRng = rng.split();
  const evalRng = rng.split();
  const planner = new Mppi(model, valueFn, prior, box, cfg.mppi, planRng);
  const buffer = new ReplayBuffer(cfg.bufferSize, dS, m);

  // Evaluation: one planner per eval copy, each with its own stream; the eval env's and the planners'
  // streams are put back before every evaluation (common random numbers).
  const nEval = evalEnv === undefined ? 0 : evalEnv.n;
  const evalPlannerRngs = Array.from({ length: nEval }, () => evalRng.split());
  const evalPlanners = evalPlannerRngs.map((r) => new Mppi(model, valueFn, prior, box, cfg.mppi, r));
  const restoreStarts = [fixedStarts({ rngs: evalPlannerRngs }), fixedStarts(evalEnv ?? {})];
  const evalOne = new Float64Array(m);
  const evaluations: SgftMpcEvaluation[] = [];

  const evaluate = (at: number): void => {
    if (evalEnv === undefined) return;
    for (const restore of restoreStarts) restore();
    for (const p of evalPlanners) p.reset();
    const res = evaluateEpisodes(
      evalEnv,
      (obs, n, out, finished) => {
        for (let i = 0; i < n; i++) {
          if (finished?.[i]) {
            // A finished copy keeps stepping (auto-reset) but is not planned for: hold the box centre.
            for (let j = 0; j < m; j++) out[i * m + j] = 0.5 * (box.low[j] + box.high[j]);
            continue;
          }
          evalPlanners[i].plan(obs.subarray(i * dS, (i + 1) * dS), evalOne);
          out.set(evalOne, i * m);
        }
      },
      1_000_000,
    );
    const e: SgftMpcEvaluation = {
      realTransitions: at,
      return: res.mean,
      std: res.std,
      length: res.length,
    };
    evaluations.push(e);
    onMetrics?.(at, {
      "real/return": e.return,
      "real/returnStd": e.std,
      "real/length": e.length,
      "real/transitions": at,
    });
  };

  if (cfg.evalAtStart) evaluate(0);

  const obs = Float64Array.from(realEnv.reset());
  planner.reset();
  const action = new Float64Array(m);
  const diagSum = new Float64Array(DIAG_KEYS.length + 1);
  let diagN = 0;
  let epReturn = 0;
  let episodes = 0;
  let fits = 0;
  let modelLoss = Number.NaN;
  let lastEval = cfg.evalAtStart ? 0 : -1;
  let t = 0;
  while (t < cfg.realSteps) {
    if (t < cfg.initialSteps) {
      if (prior !== undefined) prior(obs, 1, action, warmRng);
      else
        for (let j = 0; j < m; j++) action[j] = box.low[j] + (box.high[j] - box.low[j]) * warmRng.uniform();
      for (let j = 0; j < m; j++)
        action[j] = action[j] > box.high[j] ? box.high[j] : action[j] >= box.low[j] ? action[j] : box.low[j];
    } else {
      planner.plan(obs, action);
      const d = planner.diagnostics;
      for (let i = 0; i < DIAG_KEYS.length; i++) diagSum[i] += d[DIAG_KEYS[i]];
      diagSum[DIAG_KEYS.length] += d.planReturn - d.priorBestReturn;
      diagN++;
    }
    const res = realEnv.step(action);
    const terminated = res.terminated[0] === 1;
    const ended = terminated || res.truncated[0] === 1;
    buffer.addStep(obs, action, res);
    t++;
    epReturn += res.reward[0];
    obs.set(res.obs);
    if (ended) {
      episodes++;
      planner.reset();
      onMetrics?.(t, { "real/episodeReturn": epReturn, "real/episodes": episodes, "real/transitions": t });
      epReturn = 0;
    }
    // Also once when the warm-up ends, so that planning starts from a model that has seen real data.
    if ((cfg.fitEvery > 0 ? t % cfg.fitEvery === 0 : ended) || t === cfg.initialSteps) {
      modelLoss = model.fit(buffer, cfg.fitUpdates, fitRng);
      fits++;
      onMetrics?.(t, { "model/loss": modelLoss, "model/fits": fits });
    }
    if (t % cfg.logInterval === 0 && diagN > 0) {
      const mm: Record<string, number> = { "real/transitions": t };
      DIAG_KEYS.forEach((k, i) => {
        mm[`mpc/${k}`] = diagSum[i] / diagN;
      });
      if (prior !== undefined && planner.config.priorSamples > 0)
        mm["mpc/advantage"] = diagSum[DIAG_KEYS.length] / diagN;
      else delete mm["mpc/priorBestReturn"];
      onMetrics?.(t, mm);
      diagSum.fill(0);
      diagN = 0;
    }
    if (cfg.evalInterval > 0 && t % cfg.evalInterval === 0) {
      evaluate(t);
      lastEval = t;
    }
  }
  if (lastEval !== t) evaluate(t);
  return { evaluations, buffer, realTransitions: t, episodes, fits, modelLoss, config: cfg };
}
