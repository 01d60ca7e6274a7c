/**
 * The two baselines of issue 8 that change the *simulator* instead of fine-tuning in reality, judged on the
 * same real-transition axis and evaluation episodes as the fine-tuning methods (finetune.ts):
 *
 * - `domain-rand`: zero-shot transfer of a SAC policy trained in simulation with the suspected physical
 *   parameters drawn per episode from ranges (src/envs/control/randomised.ts). No real data: one
 *   evaluation, held over the whole budget.
 * - `sysid`: collect `initialSteps` real transitions with the sim policy (the same pre-collection the SAC
 *   learners use), fit the gap's physical parameters by least squares (system-identification.ts), retrain
 *   SAC from scratch in the identified simulator, deploy. Its curve is the sim policy until the data are in,
 *   the retrained policy from then on.
 *
 * Both report their evaluations on the fine-tuning grid (0, evalInterval, …, realSteps) so the curves are
 * comparable; a policy that did not change is not re-evaluated, its value is repeated.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { cartpoleModel } from "../envs/control/models.ts";
import { domainRandomised, type ParamRanges } from "../envs/control/randomised.ts";
import { makeEnv } from "../envs/control/registry.ts";
import { VecEnv } from "../envs/control/vec-env.ts";
import { ReplayBuffer } from "../inner/replay-buffer.ts";
import { evaluateEpisodes, fixedStarts, type RlMetricsCallback, type RlTask } from "../inner/rl-common.ts";
import { SacAgent, type SacCheckpoint, type SacConfigInput, trainSac } from "../inner/sac.ts";
import type { Rng } from "../math/rng.ts";
import type { FinetunePoint } from "./finetune.ts";
import type { SimBundle } from "./sim-bundle.ts";
import {
  clampPendulumGap,
  fitModelParams,
  fitPendulumGap,
  PENDULUM_GAP_PARAMS,
  type PendulumGapParam,
} from "./system-identification.ts";

const RangeSchema = z.tuple([z.number(), z.number()]);

export const SimBaselineCommonSchema = z.object({
  realSteps: z.number().int().positive().default(2000).describe("Real-transition budget (the x-axis)"),
  evalInterval: z.number().int().positive().default(250).describe("Real steps between reported evaluations"),
  simSteps: z
    .number()
    .int()
    .positive()
    .default(20_000)
    .describe("SAC steps in the (randomised or identified) simulator"),
  hidden: z
    .array(z.number().int().positive())
    .default([64, 64])
    .describe("SAC hidden layers (the sim bundle's)"),
  learningStarts: z.number().int().nonnegative().default(1000).describe("SAC random-action warm-up steps"),
  warmStart: z
    .boolean()
    .default(true)
    .describe(
      "Start SAC from the sim bundle's agent (what a practitioner would do; from scratch, 20k steps do not learn the friction swing-up) instead of fresh networks",
    ),
});

export const DomainRandConfigSchema = SimBaselineCommonSchema.extend({
  ranges: z
    .record(z.string(), RangeSchema)
    .optional()
    .describe(
      "Parameter → [low, high] of its per-episode uniform draw (default: pendulum gain [0.25, 1], sgftFriction [0, 1]; cart-pole massCart [0.5, 3], massPole [0.05, 0.3])",
    ),
}).describe("Zero-shot transfer of a SAC policy trained with domain randomisation");
export type DomainRandConfigInput = z.input<typeof DomainRandConfigSchema>;

export const SysIdRetrainConfigSchema = SimBaselineCommonSchema.extend({
  initialSteps: z
    .number()
    .int()
    .positive()
    .default(400)
    .describe("Real transitions collected with the sim policy for the fit (counted)"),
  fit: z
    .array(z.string())
    .optional()
    .describe(
      "Physical parameters identified from the real data (default: pendulum gain, sgftFriction; cart-pole massCart, massPole)",
    ),
}).describe("System identification of the gap's parameters, then SAC retrained in the identified simulator");
export type SysIdRetrainConfigInput = z.input<typeof SysIdRetrainConfigSchema>;

export interface SimBaselineArgs {
  /** The simulator's env name (its nominal parameters are the simulator's). */
  simEnv: string;
  /** What simulation produced: the sim policy (zero-shot, data collection, warm start). */
  bundle: SimBundle;
  /** The real system (`env`, one copy) and its evaluation copies (`evalEnv`). */
  task: RlTask;
  rng: Rng;
  onMetrics?: RlMetricsCallback;
}

export interface SimBaselineResult {
  points: FinetunePoint[];
  /** sysid: the identified parameters; domain-rand: the ranges. */
  info: Record<string, unknown>;
}

function sacConfig(c: z.infer<typeof SimBaselineCommonSchema>): SacConfigInput {
  return { totalSteps: c.simSteps, hidden: c.hidden, learningStarts: c.learningStarts, evalInterval: 0 };
}

/** A piecewise-constant policy sequence on the evaluation grid: `values[k]` from `from[k]` real steps on. */
function onGrid(
  realSteps: number,
  interval: number,
  from: number[],
  values: FinetunePoint[],
): FinetunePoint[] {
  // The grid, plus the points where the policy changes (the sysid policy deploys at initialSteps).
  const grid = new Set<number>(from);
  for (let x = 0; x < realSteps; x += interval) grid.add(x);
  grid.add(realSteps);
  const xs = [...grid].sort((p, q) => p - q);
  return xs.map((x) => {
    let k = 0;
    while (k + 1 < from.length && from[k + 1] <= x) k++;
    return { ...values[k], realTransitions: x };
  });
}

/** Train SAC in `env` (a VecEnv of one copy with `rng`'s first split), from `init` when given. */
function trainInSim(
  env: ReturnType<typeof makeEnv>,
  params: Record<string, number>,
  c: z.infer<typeof SimBaselineCommonSchema>,
  rng: Rng,
  init: SacCheckpoint | undefined,
  onMetrics?: RlMetricsCallback,
): SacAgent {
  const task: RlTask = { env: new VecEnv(env, params, 1, rng.split()), actionSpace: env.actionSpace };
  return trainSac(task, sacConfig(c), rng.split(), onMetrics, init).agent;
}

export function runDomainRandomisation(a: SimBaselineArgs, config: DomainRandConfigInput): SimBaselineResult {
  const c = DomainRandConfigSchema.parse(config);
  const evalEnv = a.task.evalEnv;
  if (evalEnv === undefined) throw new RangeError("runDomainRandomisation: the task needs an evalEnv");
  const ranges = (c.ranges as ParamRanges | undefined) ?? defaultRanges(a.simEnv);
  const env = domainRandomised(makeEnv(a.simEnv), ranges);
  const agent = trainInSim(env, {}, c, a.rng, c.warmStart ? a.bundle.sac : undefined, a.onMetrics);
  const res = evaluateEpisodes(evalEnv, (o, n, out) => agent.act(o, n, out, true));
  a.onMetrics?.(0, { "real/return": res.mean, "real/returnStd": res.std, "real/transitions": 0 });
  return {
    points: onGrid(
      c.realSteps,
      c.evalInterval,
      [0],
      [{ realTransitions: 0, return: res.mean, std: res.std }],
    ),
    info: { ranges },
  };
}

/** What `sysid` fits by default: the physical parameters behind each task's benchmark gaps. */
const DEFAULT_FIT: Record<string, string[]> = {
  pendulum: ["gain", "sgftFriction"],
  cartpole: ["massCart", "massPole"],
};

/** The ranges `domain-rand` draws from on `env` unless configured: wide around the nominal values. */
const DEFAULT_RANGES: Record<string, ParamRanges> = {
  pendulum: { gain: [0.25, 1], sgftFriction: [0, 1] },
  cartpole: { massCart: [0.5, 3], massPole: [0.05, 0.3] },
};

export function defaultRanges(env: string): ParamRanges {
  const r = DEFAULT_RANGES[env];
  if (r === undefined) throw new InputError(`ranges: no default ranges for '${env}'; give them`, "ranges");
  return r;
}

/** The parameters `sysid` identifies on `env` unless configured. */
export const defaultSysIdFit = (env: string): string[] => DEFAULT_FIT[env] ?? [];

/**
 * The fit for a task: the pendulum's closed-form least squares over (gain, damping, SGFT friction), whose
 * observation is not its state; Levenberg–Marquardt on the parametric model where the observation is the
 * state (cart-pole).
 */
function identify(env: string, data: ReplayBuffer, names: readonly string[]): Record<string, number> {
  if (env === "pendulum") {
    const bad = names.filter((n) => !(PENDULUM_GAP_PARAMS as readonly string[]).includes(n));
    if (bad.length > 0)
      throw new InputError(
        `fit: the pendulum fit identifies ${PENDULUM_GAP_PARAMS.join(", ")}, not ${bad.join(", ")}`,
        "fit",
      );
    return clampPendulumGap(fitPendulumGap(data, makeEnv(env).defaultParams, names as PendulumGapParam[]));
  }
  if (env === "cartpole") return fitModelParams(cartpoleModel(), data, names);
  throw new InputError(`fit: no system identification for '${env}' (pendulum, cartpole)`, "fit");
}

export function runSysIdRetrain(a: SimBaselineArgs, config: SysIdRetrainConfigInput): SimBaselineResult {
  const c = SysIdRetrainConfigSchema.parse(config);
  const { task, rng } = a;
  const evalEnv = task.evalEnv;
  if (evalEnv === undefined) throw new RangeError("runSysIdRetrain: the task needs an evalEnv");
  const restoreStarts = fixedStarts(evalEnv as { rngs?: readonly Rng[] });
  const evaluate = (
    act: (o: Float64Array, n: number, out: Float64Array) => void,
    x: number,
  ): FinetunePoint => {
    restoreStarts();
    const res = evaluateEpisodes(evalEnv, act);
    a.onMetrics?.(x, { "real/return": res.mean, "real/returnStd": res.std, "real/transitions": x });
    return { realTransitions: x, return: res.mean, std: res.std };
  };
  const simAgent = SacAgent.fromCheckpoint(a.bundle.sac, {}, rng.split());
  const zero = evaluate((o, n, out) => simAgent.act(o, n, out, true), 0);

  // Pre-collect with the sim policy's stochastic actions (as the SAC learners do), every step counted.
  const env = task.env;
  const { n, obsSize: dS, actionSize: dA } = env;
  const buffer = new ReplayBuffer(c.initialSteps + n, dS, dA);
  const exploreRng = rng.split();
  const act = new Float64Array(n * dA);
  const obs = Float64Array.from(env.reset());
  let steps = 0;
  while (steps < c.initialSteps) {
    simAgent.act(obs, n, act, false, exploreRng);
    const res = env.step(act);
    buffer.addStep(obs, act, res);
    obs.set(res.obs);
    steps += n;
  }
  const sim = makeEnv(a.simEnv);
  const names = c.fit ?? defaultSysIdFit(a.simEnv);
  const fitted = identify(a.simEnv, buffer, names);
  const identified = Object.fromEntries(names.map((k) => [k, fitted[k]]));
  a.onMetrics?.(steps, Object.fromEntries(names.map((k) => [`sysid/${k}`, fitted[k]])));
  const agent = trainInSim(sim, fitted, c, rng, c.warmStart ? a.bundle.sac : undefined, a.onMetrics);
  const after = evaluate((o, m, out) => agent.act(o, m, out, true), steps);
  return {
    points: onGrid(c.realSteps, c.evalInterval, [0, steps], [zero, after]),
    info: { identified, realTransitionsUsed: steps },
  };
}
