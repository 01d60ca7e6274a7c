/**
 * n copies of a control env stepped together, Gymnasium VectorEnv style (auto-reset).
 *
 * Sub-env i owns its state, its parameter record and its own RNG stream (the i-th `split()` of the rng
 * given to the constructor), and a step of the batch is exactly, for each i in order:
 *
 *   env.step(params[i], state[i], action[i], rng[i], out)     → reward[i], terminated[i]
 *   env.observe(params[i], state[i], obs[i], rng[i])          → finalObs[i] (and obs[i] if not finished)
 *   t[i] += 1; truncated[i] = t[i] ≥ env.maxSteps              (TimeLimit: set even when terminated)
 *   if terminated[i] or truncated[i]:
 *     env.reset(params[i], state[i], rng[i]); env.observe(params[i], state[i], obs[i], rng[i]); t[i] = 0
 *
 * so `obs` after a finished episode is already the first observation of the next one, and `finalObs`
 * holds the observation the episode ended on (for every i: equal to `obs[i]` where nothing finished).
 * `reset()` resets every sub-env (reset then observe with its stream); call it once before the first
 * `step` (states start at zero otherwise).
 *
 * All arrays returned are buffers owned by the VecEnv and overwritten by the next call: copy what you
 * keep. No allocation per step.
 */
import { InputError } from "../../common/errors.ts";
import type { Rng } from "../../math/rng.ts";
import { type ControlEnv, type EnvParams, resolveParams, type StepResult } from "./env.ts";

export interface VecStepResult {
  /** n × obsSize: the observation to act on next (after auto-reset where an episode finished). */
  readonly obs: Float64Array;
  readonly reward: Float64Array;
  /** 1 where the episode ended inside the task (fell over). */
  readonly terminated: Uint8Array;
  /** 1 where the time limit (env.maxSteps) was reached. */
  readonly truncated: Uint8Array;
  /** n × obsSize: the observation reached by this step, before any auto-reset. */
  readonly finalObs: Float64Array;
}

export class VecEnv {
  readonly env: ControlEnv;
  readonly n: number;
  readonly obsSize: number;
  readonly actionSize: number;
  /** n × obsSize, the current observations (the same buffer `reset` and `step` return). */
  readonly obs: Float64Array;
  /** Steps taken in each sub-env's current episode. */
  readonly episodeStep: Int32Array;
  /** Each sub-env's state (length env.stateSize; read-only for callers). */
  readonly states: readonly Float64Array[];
  /** Each sub-env's RNG stream. */
  readonly rngs: readonly Rng[];
  private paramList: EnvParams[];
  private readonly obsViews: Float64Array[];
  private readonly finalViews: Float64Array[];
  private readonly act: Float64Array;
  private readonly out: StepResult = { reward: 0, terminated: false };
  private readonly result: VecStepResult;

  /**
   * `params`: one record for all sub-envs or one per sub-env; each is completed with the env's defaults
   * and validated (unknown names are an InputError).
   */
  constructor(env: ControlEnv, params: EnvParams | readonly EnvParams[], n: number, rng: Rng) {
    if (!Number.isSafeInteger(n) || n < 1)
      throw new InputError(`n must be a positive integer, got ${n}`, "n");
    this.env = env;
    this.n = n;
    this.obsSize = env.observationSpace.low.length;
    this.actionSize = env.actionSpace.low.length;
    this.paramList = this.resolve(params);
    this.obs = new Float64Array(n * this.obsSize);
    const finalObs = new Float64Array(n * this.obsSize);
    this.obsViews = [];
    this.finalViews = [];
    const states: Float64Array[] = [];
    const rngs: Rng[] = [];
    for (let i = 0; i < n; i++) {
      this.obsViews.push(this.obs.subarray(i * this.obsSize, (i + 1) * this.obsSize));
      this.finalViews.push(finalObs.subarray(i * this.obsSize, (i + 1) * this.obsSize));
      states.push(new Float64Array(env.stateSize));
      rngs.push(rng.split());
    }
    this.states = states;
    this.rngs = rngs;
    this.episodeStep = new Int32Array(n);
    this.act = new Float64Array(this.actionSize);
    this.result = {
      obs: this.obs,
      reward: new Float64Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObs,
    };
  }

  private resolve(params: EnvParams | readonly EnvParams[]): EnvParams[] {
    if (Array.isArray(params)) {
      if (params.length !== this.n)
        throw new InputError(
          `params: expected ${this.n} records (one per sub-env), got ${params.length}`,
          "params",
        );
      return params.map((p: EnvParams) => resolveParams(this.env, p));
    }
    const p = resolveParams(this.env, params as EnvParams);
    return Array.from({ length: this.n }, () => p);
  }

  /** The parameter record of sub-env i. */
  params(i: number): EnvParams {
    return this.paramList[i];
  }

  /** Replace the parameters (one record or one per sub-env); takes effect from the next reset/step. */
  setParams(params: EnvParams | readonly EnvParams[]): void {
    this.paramList = this.resolve(params);
  }

  /** Resets every sub-env; returns `obs`. */
  reset(): Float64Array {
    const { env } = this;
    for (let i = 0; i < this.n; i++) {
      const p = this.paramList[i];
      env.reset(p, this.states[i], this.rngs[i]);
      env.observe(p, this.states[i], this.obsViews[i], this.rngs[i]);
      this.episodeStep[i] = 0;
    }
    return this.obs;
  }

  /** Steps every sub-env with its slice of `actions` (n × actionSize, row-major). */
  step(actions: ArrayLike<number>): VecStepResult {
    const { env, n, actionSize: m, obsSize: k, act, out, result } = this;
    if (actions.length !== n * m)
      throw new RangeError(`actions: expected ${n}×${m} = ${n * m} entries, got ${actions.length}`);
    const maxSteps = env.maxSteps;
    for (let i = 0; i < n; i++) {
      const p = this.paramList[i];
      const state = this.states[i];
      const rng = this.rngs[i];
      for (let j = 0; j < m; j++) act[j] = actions[i * m + j];
      out.reward = 0;
      out.terminated = false;
      env.step(p, state, act, rng, out);
      const fin = this.finalViews[i];
      env.observe(p, state, fin, rng);
      const t = ++this.episodeStep[i];
      result.reward[i] = out.reward;
      const term = out.terminated;
      const trunc = t >= maxSteps;
      result.terminated[i] = term ? 1 : 0;
      result.truncated[i] = trunc ? 1 : 0;
      const o = this.obsViews[i];
      if (term || trunc) {
        env.reset(p, state, rng);
        env.observe(p, state, o, rng);
        this.episodeStep[i] = 0;
      } else {
        for (let j = 0; j < k; j++) o[j] = fin[j];
      }
    }
    return result;
  }
}
