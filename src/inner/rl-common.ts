/**
 * What PPO (ppo.ts) and SAC (sac.ts) share: the vectorised-environment contract they train on, the metrics
 * callback, deterministic evaluation, Polyak averaging, gradient-norm clipping and the JSON form of network
 * parameters in checkpoints.
 *
 * Environments: the learners take a `VecEnvLike`, the structural shape of src/envs/control/vec-env.ts's
 * `VecEnv` (n copies of one ControlEnv, Gymnasium-style auto-reset): `step` returns the next observations
 * (already reset where an episode ended), rewards, `terminated` / `truncated` flags and `finalObs`, the
 * observation reached before the reset. Bootstrapping follows Gymnasium: a truncated episode (time limit)
 * is bootstrapped from V(finalObs); a terminated one is not.
 *
 * Checkpoints: network parameters go to JSON as plain arrays of numbers. JSON.stringify prints the
 * shortest decimal that parses back to the same double, so every finite Float64 round-trips exactly
 * (−0 becomes 0, which changes no product or sum); non-finite entries are rejected on both sides.
 */
import type { Box } from "../envs/control/env.ts";
import type { Rng } from "../math/rng.ts";
import type { Activation, MlpSpec } from "../nn/index.ts";

/** One vectorised step (row-major: env i's observation at i·obsSize). */
export interface VecStep {
  /** Next observations, already reset where an episode ended (n × obsSize). */
  obs: Float64Array;
  reward: Float64Array;
  /** 1 where the episode ended inside the task (no bootstrap). */
  terminated: Uint8Array;
  /** 1 where the time limit cut the episode (bootstrap from finalObs). */
  truncated: Uint8Array;
  /** The observation reached by this step, before any auto-reset (n × obsSize). */
  finalObs: Float64Array;
}

/** The shape of `VecEnv` (src/envs/control/vec-env.ts) that the learners use. */
export interface VecEnvLike {
  readonly n: number;
  readonly obsSize: number;
  readonly actionSize: number;
  /** Resets every copy; returns the observations (n × obsSize). */
  reset(): Float64Array;
  /** Steps every copy with its row of `actions` (n × actionSize); auto-resets finished episodes. */
  step(actions: Float64Array): VecStep;
}

/** Where a learner trains and (optionally) is evaluated. */
export interface RlTask {
  /** Training environments. */
  env: VecEnvLike;
  /** The ControlEnv's action box (SAC squashes into it; PPO leaves clipping to the env). */
  actionSpace: Box;
  /** Evaluation environments (deterministic policy, one episode per copy); none: no `eval/…` metrics. */
  evalEnv?: VecEnvLike;
}

/** Metrics sink: `step` counts environment steps (all copies), keys are grouped (`train/…`, `eval/…`, `loss/…`). */
export type RlMetricsCallback = (step: number, metrics: Record<string, number>) => void;

/** A deterministic (or seeded) controller: writes n × actionSize actions (env units) for n observations. */
export type ActFn = (obs: Float64Array, n: number, out: Float64Array, finished?: Uint8Array) => void;

export interface EvaluationResult {
  /** Mean undiscounted return of the episodes. */
  mean: number;
  std: number;
  /** Mean episode length. */
  length: number;
  returns: number[];
}

/**
 * Common random numbers for repeated evaluations: snapshots the streams of a VecEnv's copies (`rngs`) and
 * returns a function that puts them back, so every evaluation after it starts from the same initial states
 * (and draws the same noise). An env without `rngs` is left alone.
 */
export function fixedStarts(env: { readonly rngs?: readonly Rng[] }): () => void {
  const rngs = env.rngs ?? [];
  const states = rngs.map((r) => r.state());
  return () => {
    rngs.forEach((r, i) => {
      r.restore(states[i]);
    });
  };
}

/** One deterministic evaluation during training. */
export interface Evaluation {
  /** Environment steps taken when it ran. */
  step: number;
  mean: number;
  std: number;
  length: number;
}

/** The evaluations of a training run: `act` on `task.evalEnv` (nothing without one), kept and reported as
 * `eval/…` metrics. */
export class Evaluator {
  readonly evaluations: Evaluation[] = [];
  private last = -1;
  constructor(
    private readonly task: RlTask,
    private readonly act: ActFn,
    private readonly onMetrics?: RlMetricsCallback,
  ) {}

  run(step: number): void {
    if (this.task.evalEnv === undefined) return;
    const res = evaluateEpisodes(this.task.evalEnv, this.act);
    this.evaluations.push({ step, mean: res.mean, std: res.std, length: res.length });
    this.last = step;
    this.onMetrics?.(step, { "eval/return": res.mean, "eval/returnStd": res.std, "eval/length": res.length });
  }

  /** The closing evaluation, unless one already ran at this step. */
  final(step: number): void {
    if (this.last !== step) this.run(step);
  }
}

/**
 * Runs one episode in each copy of `env` (from `env.reset()`) with `act`, and returns the mean
 * undiscounted return. Copies that finish early keep stepping (auto-reset) until the last one is done, but
 * only their first episode counts; `act` receives the `finished` mask (1 = that copy's counted episode is
 * over, its action does not matter), so an expensive controller (an MPC planner) can skip those rows.
 * `maxSteps` guards against an env that never ends.
 */
export function evaluateEpisodes(env: VecEnvLike, act: ActFn, maxSteps = 100_000): EvaluationResult {
  const { n, actionSize } = env;
  let obs = env.reset();
  const actions = new Float64Array(n * actionSize);
  const ret = new Float64Array(n);
  const len = new Float64Array(n);
  const done = new Uint8Array(n);
  let remaining = n;
  for (let t = 0; t < maxSteps && remaining > 0; t++) {
    act(obs, n, actions, done);
    const r = env.step(actions);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      ret[i] += r.reward[i];
      len[i]++;
      if (r.terminated[i] || r.truncated[i]) {
        done[i] = 1;
        remaining--;
      }
    }
    obs = r.obs;
  }
  if (remaining > 0)
    throw new RangeError(`evaluateEpisodes: ${remaining} episodes still running after ${maxSteps} steps`);
  const returns = Array.from(ret);
  const mean = returns.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(returns.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  return { mean, std, length: len.reduce((s, x) => s + x, 0) / n, returns };
}

/** target ← (1 − τ)·target + τ·source, in place (Polyak averaging of target networks). */
export function polyakUpdate(target: Float64Array, source: Float64Array, tau: number): void {
  if (target.length !== source.length)
    throw new RangeError(`polyakUpdate: target has ${target.length} entries, source ${source.length}`);
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`polyakUpdate: tau must be in [0, 1], got ${tau}`);
  const keep = 1 - tau;
  for (let i = 0; i < target.length; i++) target[i] = keep * target[i] + tau * source[i];
}

/** Scales `grad` in place so that its Euclidean norm is at most maxNorm (≤ 0 or ∞: no clipping); returns the norm before. */
export function clipGradNorm(grad: Float64Array, maxNorm: number): number {
  let s = 0;
  for (let i = 0; i < grad.length; i++) s += grad[i] * grad[i];
  const norm = Math.sqrt(s);
  if (maxNorm > 0 && Number.isFinite(maxNorm) && norm > maxNorm) {
    const c = maxNorm / (norm + 1e-12);
    for (let i = 0; i < grad.length; i++) grad[i] *= c;
  }
  return norm;
}

/** An MLP with the given hidden widths and activation, linear output. */
export function mlpSpec(
  inSize: number,
  hidden: readonly number[],
  activation: Activation,
  outSize: number,
): MlpSpec {
  return {
    sizes: [inSize, ...hidden, outSize],
    activations: [...hidden.map(() => activation), "linear"],
  };
}

/** A network in a checkpoint: its shape and its parameters (mlp.ts flat layout) as plain numbers. */
export interface NetworkJson {
  spec: MlpSpec;
  params: number[];
}

/** Plain numbers for JSON; throws on a non-finite entry (JSON would turn it into null). */
export function toNumberArray(name: string, x: ArrayLike<number>): number[] {
  const out = Array.from(x);
  out.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`${name}[${i}] is ${v}: cannot be checkpointed`);
  });
  return out;
}

/** Float64Array from a checkpoint array, checked for length and finiteness. */
export function fromNumberArray(name: string, x: unknown, length?: number): Float64Array {
  if (!Array.isArray(x)) throw new RangeError(`${name} must be an array of numbers`);
  if (length !== undefined && x.length !== length)
    throw new RangeError(`${name}: expected ${length} entries, got ${x.length}`);
  const out = new Float64Array(x.length);
  x.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new RangeError(`${name}[${i}] is not a finite number`);
    out[i] = v;
  });
  return out;
}

/** Throws unless a checkpoint's network `net` has the layer sizes and activations of `spec`. */
export function checkNetworkShape(name: string, net: NetworkJson, spec: MlpSpec): void {
  const same =
    JSON.stringify(net.spec.sizes) === JSON.stringify(spec.sizes) &&
    JSON.stringify(net.spec.activations) === JSON.stringify(spec.activations);
  if (!same) throw new RangeError(`checkpoint ${name}: network shape does not match`);
}

export function networkToJson(spec: MlpSpec, params: Float64Array, name = "params"): NetworkJson {
  return {
    spec: { sizes: [...spec.sizes], activations: [...spec.activations] },
    params: toNumberArray(name, params),
  };
}

/** Throws unless every bound of the box is finite (SAC squashes actions into it). */
export function checkFiniteBox(box: Box, actionSize: number): void {
  if (box.low.length !== actionSize || box.high.length !== actionSize)
    throw new RangeError(`action box has ${box.low.length} dimensions, the env ${actionSize}`);
  for (let j = 0; j < actionSize; j++)
    if (!(Number.isFinite(box.low[j]) && Number.isFinite(box.high[j]) && box.high[j] > box.low[j]))
      throw new RangeError(
        `action box dimension ${j} must be finite with high > low, got [${box.low[j]}, ${box.high[j]}]`,
      );
}
