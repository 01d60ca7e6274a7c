/**
 * MPPI trajectory optimisation over a learned model (Williams et al. 2017, in the form TD-MPC2 uses:
 * Hansen et al. 2024), the planner of MPC-SGFT (sgft-paper.md Algorithm 3, §6.1 "SGFT-TDMPC-2").
 *
 * Objective of an action sequence a_0..a_{H−1} from s_0, rolled out through the learned model p̂ — eq. (1)
 * without its constant −V_sim(s_0):
 *
 *   J(a) = Σ_{t<H} γ^t C_t r_t + γ^H C_H V_sim(s_H),     C_t = Π_{u<t} c_u,
 *
 * r_t, s_{t+1}, c_t = p̂(s_t, a_t) (c the model's continuation probability): the reward of the step that
 * terminates is still received, nothing after it (no later reward, no terminal value).
 *
 * One `plan(s_0)`:
 *   1. warm start: the previous call's mean shifted one step (last step ← centre of the action box; after
 *      `reset()` the whole mean is the centre); std ← maxStd;
 *   2. `priorSamples` sequences from the policy prior rolled out through the model (a_t ~ π(·|s_t) along
 *      the model's own states), drawn once per call and kept in every iteration (TD-MPC2);
 *   3. `iterations` times: the other samples are the current mean (ε = 0) and mean + std·ε, ε ~ N(0, I),
 *      clipped to the box; every sample's J is computed in one batched rollout; the `elites` best
 *      (all when 0) get weights w ∝ exp((J − J_max)/(λ·s)), s = the elites' return std when
 *      `normalizeReturns` (a scale-free temperature: returns of −1000 and −1 need no retuning), else 1;
 *      mean ← momentum·mean + (1 − momentum)·Σ w a / Σ w, std ← clamp(√(Σ w (a − mean_w)²/Σ w)).
 *   4. the action: the first step of the final mean ("mean", default: deterministic given the samples,
 *      smooth in s_0) or of the best sequence seen in this call ("best"); always inside the box.
 *
 * Units: means and actions in env units; stds as fractions of the box half-width (TD-MPC2's [−1, 1]
 * convention, so minStd/maxStd mean the same for every env). The box must be finite.
 *
 * Cost per call: (iterations·(K − P) + P + 1)·H rows through `model.predict` (in `iterations + 2` batches
 * per step of the horizon) and as many rows through V_sim; everything is preallocated in the constructor
 * (no allocation per call). Randomness: only the `rng` given to the constructor (ε and the prior's draws).
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import type { Box } from "../envs/control/env.ts";
import type { Rng } from "../math/rng.ts";
import type { LearnedModel, SampleFn, ValueFn } from "./types.ts";

export const MppiConfigSchema = z
  .object({
    horizon: z
      .number()
      .int()
      .positive()
      .default(4)
      .describe("Planning horizon H of eq. (1) (sgft-paper §6.1: H = 4)"),
    samples: z
      .number()
      .int()
      .min(2)
      .default(256)
      .describe("Action sequences K evaluated per iteration (prior samples included)"),
    priorSamples: z
      .number()
      .int()
      .nonnegative()
      .default(24)
      .describe(
        "Of the K samples, sequences drawn by rolling the policy prior through the model (TD-MPC2: 24)",
      ),
    iterations: z
      .number()
      .int()
      .positive()
      .default(6)
      .describe("Refits of the sampling distribution per call (TD-MPC2: 6)"),
    elites: z
      .number()
      .int()
      .nonnegative()
      .default(64)
      .describe("Best samples that enter the refit (TD-MPC2: 64); 0 or ≥ samples: all (plain MPPI)"),
    temperature: z
      .number()
      .positive()
      .default(0.5)
      .describe("Temperature λ of the weights exp((J − J_max)/(λ·s)); smaller = greedier"),
    normalizeReturns: z
      .boolean()
      .default(true)
      .describe("Scale s = std of the elites' returns (scale-free λ); false: s = 1 (λ in return units)"),
    minStd: z
      .number()
      .positive()
      .default(0.05)
      .describe("Lower clamp of the sampling std, as a fraction of the action box half-width"),
    maxStd: z
      .number()
      .positive()
      .default(2)
      .describe("Upper clamp of the std and its value at the start of each call (fraction of half-width)"),
    momentum: z
      .number()
      .min(0)
      .lt(1)
      .default(0.1)
      .describe("Weight of the previous iteration's mean in each refit (TD-MPC: 0.1)"),
    gamma: z
      .number()
      .gt(0)
      .max(1)
      .default(0.99)
      .describe("Discount γ of eq. (1); must be the discount V_sim was learned with"),
    output: z
      .enum(["mean", "best"])
      .default("mean")
      .describe("Action returned: first step of the final mean, or of the best sequence seen in the call"),
  })
  .superRefine((c, ctx) => {
    if (c.priorSamples >= c.samples)
      ctx.addIssue({
        code: "custom",
        path: ["priorSamples"],
        message: `priorSamples (${c.priorSamples}) must be < samples (${c.samples}): the mean needs a slot`,
      });
    if (c.minStd > c.maxStd)
      ctx.addIssue({
        code: "custom",
        path: ["minStd"],
        message: `minStd (${c.minStd}) must be ≤ maxStd (${c.maxStd})`,
      });
  })
  .describe("MPPI planner over a learned model with V_sim as terminal value (MPC-SGFT)");
export type MppiConfig = z.infer<typeof MppiConfigSchema>;
export type MppiConfigInput = z.input<typeof MppiConfigSchema>;

/** What the last `plan` saw (NaN where not applicable), for `mpc/…` metrics. */
export interface MppiDiagnostics {
  /** Best J over every sample of the call (all iterations, prior included). */
  bestReturn: number;
  /** Mean J over the samples of the last iteration (finite ones). */
  meanReturn: number;
  /** Mean J of the last iteration's elites. */
  eliteReturn: number;
  /** J of the final mean sequence (the plan whose first action "mean" returns). */
  planReturn: number;
  /** Best and mean J of the prior's sequences (NaN without prior samples). */
  priorBestReturn: number;
  priorMeanReturn: number;
  /** V_sim(s_0): planReturn − value0 is eq. (1)'s V_H of the plan. */
  value0: number;
  /** Mean std of the final distribution's first step (fraction of the half-width). */
  std: number;
}

/** Scratch rows for a rollout of exactly n sequences (views, so `predict` sees n-row arrays). */
interface RolloutViews {
  obs: Float64Array;
  next: Float64Array;
  act: Float64Array;
  reward: Float64Array;
  cont: Float64Array;
  value: Float64Array;
}

export class Mppi {
  readonly config: MppiConfig;
  readonly horizon: number;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly low: Float64Array;
  readonly high: Float64Array;
  /** Diagnostics of the last `plan` (one object, overwritten by each call). */
  readonly diagnostics: MppiDiagnostics = {
    bestReturn: Number.NaN,
    meanReturn: Number.NaN,
    eliteReturn: Number.NaN,
    planReturn: Number.NaN,
    priorBestReturn: Number.NaN,
    priorMeanReturn: Number.NaN,
    value0: Number.NaN,
    std: Number.NaN,
  };
  private readonly model: LearnedModel;
  private readonly value: ValueFn;
  private readonly prior: SampleFn | undefined;
  private readonly rng: Rng;
  private readonly nPrior: number;
  private readonly nElite: number;
  private readonly centre: Float64Array;
  private readonly half: Float64Array;
  /** H × m, env units: the sampling mean (after `plan`: the final one, start of the next warm start). */
  private readonly meanBuf: Float64Array;
  /** H × m, the mean the last `plan` started from (the shifted warm start). */
  private readonly startBuf: Float64Array;
  /** H × m, fractions of the half-width. */
  private readonly stdBuf: Float64Array;
  private readonly newMean: Float64Array;
  private readonly bestSeq: Float64Array;
  /** K × H × m, sample-major: rows [0, P) prior sequences, row P the mean, the rest Gaussian. */
  private readonly seqs: Float64Array;
  private readonly returns: Float64Array;
  private readonly weights: Float64Array;
  private readonly order: Int32Array;
  private readonly alive: Float64Array;
  private readonly obsA: Float64Array;
  private readonly obsB: Float64Array;
  private readonly actBuf: Float64Array;
  private readonly rewBuf: Float64Array;
  private readonly contBuf: Float64Array;
  private readonly valBuf: Float64Array;
  private readonly planOut = new Float64Array(1);
  private readonly views = new Map<number, RolloutViews>();
  private readonly byReturn: (x: number, y: number) => number;
  private warm = false;

  constructor(
    model: LearnedModel,
    value: ValueFn,
    prior: SampleFn | undefined,
    actionSpace: Box,
    config: MppiConfigInput,
    rng: Rng,
  ) {
    this.config = MppiConfigSchema.parse(config);
    const cfg = this.config;
    const m = model.actionSize;
    const dS = model.obsSize;
    if (actionSpace.low.length !== m || actionSpace.high.length !== m)
      throw new InputError(
        `MPPI: the action box has ${actionSpace.low.length} dimensions, the model ${m}`,
        "actionSpace",
      );
    for (let j = 0; j < m; j++)
      if (!(Number.isFinite(actionSpace.low[j]) && Number.isFinite(actionSpace.high[j])))
        throw new InputError(`MPPI needs a finite action box; dimension ${j} is unbounded`, "actionSpace");
      else if (!(actionSpace.high[j] >= actionSpace.low[j]))
        throw new InputError(`MPPI: action box dimension ${j} has high < low`, "actionSpace");
    this.model = model;
    this.value = value;
    this.prior = prior;
    this.rng = rng;
    this.horizon = cfg.horizon;
    this.obsSize = dS;
    this.actionSize = m;
    this.low = Float64Array.from(actionSpace.low);
    this.high = Float64Array.from(actionSpace.high);
    this.centre = this.low.map((l, j) => 0.5 * (l + this.high[j]));
    this.half = this.low.map((l, j) => 0.5 * (this.high[j] - l));
    const K = cfg.samples;
    const H = cfg.horizon;
    this.nPrior = prior === undefined ? 0 : cfg.priorSamples;
    this.nElite = cfg.elites === 0 || cfg.elites > K ? K : cfg.elites;
    this.meanBuf = new Float64Array(H * m);
    this.startBuf = new Float64Array(H * m);
    this.stdBuf = new Float64Array(H * m);
    this.newMean = new Float64Array(H * m);
    this.bestSeq = new Float64Array(H * m);
    this.seqs = new Float64Array(K * H * m);
    this.returns = new Float64Array(K);
    this.weights = new Float64Array(K);
    this.order = new Int32Array(K);
    this.alive = new Float64Array(K);
    this.obsA = new Float64Array(K * dS);
    this.obsB = new Float64Array(K * dS);
    this.actBuf = new Float64Array(K * m);
    this.rewBuf = new Float64Array(K);
    this.contBuf = new Float64Array(K);
    this.valBuf = new Float64Array(K);
    const ret = this.returns;
    // Descending by return, ties by index (a total order: the same returns give the same elites).
    this.byReturn = (x, y) => ret[y] - ret[x] || x - y;
    this.reset();
  }

  /** Forget the warm start (call at episode starts): the next plan starts from the box centre. */
  reset(): void {
    const m = this.actionSize;
    for (let t = 0; t < this.horizon; t++) this.meanBuf.set(this.centre, t * m);
    this.warm = false;
  }

  /** The sampling mean after the last `plan` (H × m, env units; read-only: the planner's own buffer). */
  get mean(): Float64Array {
    return this.meanBuf;
  }

  /** The mean the last `plan` started from: the shifted warm start, or the centre after `reset`. */
  get startMean(): Float64Array {
    return this.startBuf;
  }

  /** The sampling std after the last `plan` (H × m, fractions of the half-width; read-only). */
  get std(): Float64Array {
    return this.stdBuf;
  }

  private rowViews(n: number): RolloutViews {
    let v = this.views.get(n);
    if (v === undefined) {
      const dS = this.obsSize;
      const m = this.actionSize;
      v = {
        obs: this.obsA.subarray(0, n * dS),
        next: this.obsB.subarray(0, n * dS),
        act: this.actBuf.subarray(0, n * m),
        reward: this.rewBuf.subarray(0, n),
        cont: this.contBuf.subarray(0, n),
        value: this.valBuf.subarray(0, n),
      };
      this.views.set(n, v);
    }
    return v;
  }

  /**
   * J of rows [row0, row0 + n) of `seqs` (n × H × m, sample-major) from s0, into out[outOff + i]. With
   * `fromPrior` the actions are drawn from the prior along the rollout and written into those rows.
   * Non-finite J (a diverging model) becomes −∞ so that it never wins.
   */
  private rollout(
    s0: Float64Array,
    seqs: Float64Array,
    row0: number,
    n: number,
    fromPrior: boolean,
    out: Float64Array,
    outOff: number,
  ): void {
    const { obsSize: dS, actionSize: m, horizon: H, alive } = this;
    const gamma = this.config.gamma;
    const v = this.rowViews(n);
    let obs = v.obs;
    let next = v.next;
    const { act, reward, cont, value } = v;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dS; j++) obs[i * dS + j] = s0[j];
      alive[i] = 1;
      out[outOff + i] = 0;
    }
    let disc = 1;
    for (let t = 0; t < H; t++) {
      if (fromPrior) {
        (this.prior as SampleFn)(obs, n, act, this.rng);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < m; j++) {
            const a = act[i * m + j];
            // The prior promises the box; clip anyway (and send NaN to the lower bound, as the envs do).
            const c = a > this.high[j] ? this.high[j] : a >= this.low[j] ? a : this.low[j];
            act[i * m + j] = c;
            seqs[(row0 + i) * H * m + t * m + j] = c;
          }
      } else {
        for (let i = 0; i < n; i++)
          for (let j = 0; j < m; j++) act[i * m + j] = seqs[(row0 + i) * H * m + t * m + j];
      }
      this.model.predict(obs, act, n, next, reward, cont);
      for (let i = 0; i < n; i++) {
        // A terminated rollout contributes nothing more (and a model's NaN after termination is ignored).
        if (alive[i] === 0) continue;
        out[outOff + i] += disc * alive[i] * reward[i];
        alive[i] *= cont[i];
      }
      disc *= gamma;
      const tmp = obs;
      obs = next;
      next = tmp;
    }
    this.value(obs, n, value);
    for (let i = 0; i < n; i++) {
      if (alive[i] !== 0) out[outOff + i] += disc * alive[i] * value[i];
      const J = out[outOff + i];
      if (!(J > Number.NEGATIVE_INFINITY && J < Number.POSITIVE_INFINITY))
        out[outOff + i] = Number.NEGATIVE_INFINITY;
    }
  }

  /**
   * The planning objective J (above) of n given sequences (n × H × m, sample-major, used as given: no
   * clipping) from one observation, into out (n). n ≤ samples.
   */
  evaluate(obs: Float64Array, sequences: Float64Array, n: number, out: Float64Array): Float64Array {
    const H = this.horizon;
    const m = this.actionSize;
    if (!Number.isSafeInteger(n) || n < 1 || n > this.config.samples)
      throw new RangeError(`Mppi.evaluate: n must be in [1, ${this.config.samples}], got ${n}`);
    if (sequences.length < n * H * m || out.length < n || obs.length < this.obsSize)
      throw new RangeError("Mppi.evaluate: arrays too short for n sequences");
    this.rollout(obs, sequences, 0, n, false, out, 0);
    return out;
  }

  /** Copies sample row k into bestSeq (a loop, not a subarray view: no allocation per call). */
  private keepBest(k: number): void {
    const L = this.horizon * this.actionSize;
    for (let q = 0; q < L; q++) this.bestSeq[q] = this.seqs[k * L + q];
  }

  /** Plans from observation `obs` and writes the action (inside the box) into `out`; returns `out`. */
  plan(obs: Float64Array, out: Float64Array): Float64Array {
    const cfg = this.config;
    const { horizon: H, actionSize: m, nPrior: P, nElite: E, rng, low, high, half } = this;
    const K = cfg.samples;
    const L = H * m;
    if (obs.length < this.obsSize) throw new RangeError(`Mppi.plan: obs has ${obs.length} entries`);
    if (out.length < m) throw new RangeError(`Mppi.plan: out has ${out.length} entries, need ${m}`);
    const mean = this.meanBuf;
    const std = this.stdBuf;
    const seqs = this.seqs;
    const ret = this.returns;
    const d = this.diagnostics;

    // 1. Warm start: shift by one step (the previous first action has been applied).
    if (this.warm) {
      mean.copyWithin(0, m, L);
      mean.set(this.centre, L - m);
    }
    this.warm = true;
    this.startBuf.set(mean);
    std.fill(cfg.maxStd);

    // 2. Prior sequences (fixed for the whole call).
    let best = Number.NEGATIVE_INFINITY;
    d.priorBestReturn = Number.NaN;
    d.priorMeanReturn = Number.NaN;
    if (P > 0) {
      this.rollout(obs, seqs, 0, P, true, ret, 0);
      let sum = 0;
      let nFin = 0;
      let bi = -1;
      for (let i = 0; i < P; i++) {
        if (ret[i] > Number.NEGATIVE_INFINITY) {
          sum += ret[i];
          nFin++;
        }
        if (bi < 0 || ret[i] > ret[bi]) bi = i;
      }
      d.priorBestReturn = ret[bi];
      d.priorMeanReturn = nFin > 0 ? sum / nFin : Number.NEGATIVE_INFINITY;
      if (ret[bi] > best) {
        best = ret[bi];
        this.keepBest(bi);
      }
    }

    const order = this.order;
    const w = this.weights;
    const nm = this.newMean;
    for (let it = 0; it < cfg.iterations; it++) {
      // 3a. Gaussian samples around the mean (row P: the mean itself), clipped to the box.
      seqs.set(mean, P * L);
      for (let k = P + 1; k < K; k++) {
        const base = k * L;
        for (let t = 0; t < H; t++)
          for (let j = 0; j < m; j++) {
            const q = t * m + j;
            const a = mean[q] + std[q] * half[j] * rng.normal();
            seqs[base + q] = a > high[j] ? high[j] : a < low[j] ? low[j] : a;
          }
      }
      this.rollout(obs, seqs, P, K - P, false, ret, P);
      // 3b. Elites and their weights.
      for (let k = 0; k < K; k++) order[k] = k;
      order.sort(this.byReturn);
      const jMax = ret[order[0]];
      for (let k = 0; k < K; k++)
        if (ret[k] > best) {
          best = ret[k];
          this.keepBest(k);
        }
      let eSum = 0;
      let eN = 0;
      for (let e = 0; e < E; e++) {
        const J = ret[order[e]];
        if (J > Number.NEGATIVE_INFINITY) {
          eSum += J;
          eN++;
        }
      }
      const eMean = eN > 0 ? eSum / eN : Number.NEGATIVE_INFINITY;
      let allSum = 0;
      let allN = 0;
      for (let k = 0; k < K; k++)
        if (ret[k] > Number.NEGATIVE_INFINITY) {
          allSum += ret[k];
          allN++;
        }
      d.meanReturn = allN > 0 ? allSum / allN : Number.NEGATIVE_INFINITY;
      d.eliteReturn = eMean;
      // Every sample diverged: keep the distribution as it is.
      if (!(jMax > Number.NEGATIVE_INFINITY)) continue;
      let scale = cfg.temperature;
      if (cfg.normalizeReturns) {
        let v = 0;
        for (let e = 0; e < E; e++) {
          const J = ret[order[e]];
          if (J > Number.NEGATIVE_INFINITY) v += (J - eMean) * (J - eMean);
        }
        const s = Math.sqrt(v / eN);
        // Equal elite returns: any positive scale gives equal weights.
        scale = s > 0 ? cfg.temperature * s : 1;
      }
      let wSum = 0;
      for (let e = 0; e < E; e++) {
        const k = order[e];
        w[e] = Math.exp((ret[k] - jMax) / scale);
        wSum += w[e];
      }
      // 3c. Weighted refit of mean and std (std in fractions of the half-width, clamped).
      nm.fill(0);
      for (let e = 0; e < E; e++) {
        if (w[e] === 0) continue;
        const base = order[e] * L;
        const we = w[e] / wSum;
        for (let q = 0; q < L; q++) nm[q] += we * seqs[base + q];
      }
      for (let q = 0; q < L; q++) {
        let v = 0;
        for (let e = 0; e < E; e++) {
          if (w[e] === 0) continue;
          const dq = seqs[order[e] * L + q] - nm[q];
          v += (w[e] / wSum) * dq * dq;
        }
        const j = q % m;
        const s = half[j] > 0 ? Math.sqrt(v) / half[j] : cfg.minStd;
        std[q] = s < cfg.minStd ? cfg.minStd : s > cfg.maxStd ? cfg.maxStd : s;
        mean[q] = cfg.momentum * mean[q] + (1 - cfg.momentum) * nm[q];
      }
    }

    // 4. Diagnostics of the final plan (one extra 1-row rollout) and the action.
    d.bestReturn = best;
    this.rollout(obs, mean, 0, 1, false, this.planOut, 0);
    d.planReturn = this.planOut[0];
    if (d.planReturn > best) {
      d.bestReturn = d.planReturn;
      if (cfg.output === "best") this.bestSeq.set(mean);
    }
    const v0 = this.rowViews(1);
    for (let j = 0; j < this.obsSize; j++) v0.obs[j] = obs[j];
    this.value(v0.obs, 1, v0.value);
    d.value0 = v0.value[0];
    let sd = 0;
    for (let j = 0; j < m; j++) sd += std[j] / m;
    d.std = sd;
    const src = cfg.output === "best" && best > Number.NEGATIVE_INFINITY ? this.bestSeq : mean;
    for (let j = 0; j < m; j++) {
      const a = src[j];
      out[j] = a > high[j] ? high[j] : a >= low[j] ? a : low[j];
    }
    return out;
  }
}
