/**
 * The learned model p̂ of SGFT (sgft-paper.md §4.2, Appendix C "a delta dynamics model where model
 * predictions are added to the input state"): one MLP from (s, a) to the normalised change Δs = s′ − s,
 * the reward r and a termination logit. Fitted on transitions by Adam on
 *
 *   ℓ = ½ Σ_j (ŷ_j − y_j)² over the normalised [Δs, r]  +  BCE(logit, terminated),
 *
 * inputs and regression targets standardised by statistics of the first data it is fitted on (the
 * simulator's buffer when pre-trained in sim); they stay fixed afterwards, so a model carried over from
 * simulation keeps meaning the same thing while it is fine-tuned on real data.
 *
 * Deterministic: `predict` returns the mean prediction and the continuation probability 1 − σ(logit).
 * Why a reward head: a "real" system's reward is what it reports, and the model must score synthetic
 * branches in the same units (the paper computes rewards from measured states; a head keeps the product
 * independent of any one task's reward formula).
 */
import { z } from "zod";
import { allocBatch, type ReplayBuffer, type TransitionBatch } from "../inner/replay-buffer.ts";
import {
  checkNetworkShape,
  fromNumberArray,
  mlpSpec,
  type NetworkJson,
  networkToJson,
  toNumberArray,
} from "../inner/rl-common.ts";
import type { Rng } from "../math/rng.ts";
import { type Activation, Adam, Mlp, type MlpWorkspace } from "../nn/index.ts";
import type { LearnedModel } from "./types.ts";

export const DynamicsModelConfigSchema = z
  .object({
    hidden: z
      .array(z.number().int().positive())
      .default([128, 128])
      .describe("Hidden widths (the paper: 2×512; 2×128 is plenty for 3–6-D states)"),
    activation: z.enum(["relu", "tanh", "softplus"]).default("relu").describe("Hidden activation"),
    lr: z.number().positive().default(1e-3).describe("Adam step size"),
    batchSize: z.number().int().positive().default(256).describe("Transitions per fitting step"),
    minStd: z
      .number()
      .positive()
      .default(1e-6)
      .describe("Floor of the standardisation scales (a constant input or target is not divided by 0)"),
  })
  .describe("Delta-dynamics model p̂(s′, r, done | s, a) of the real system (SGFT)");
export type DynamicsModelConfig = z.infer<typeof DynamicsModelConfigSchema>;
export type DynamicsModelConfigInput = z.input<typeof DynamicsModelConfigSchema>;

export interface DynamicsModelJson {
  format: "sim2real/dynamics-model";
  version: 1;
  obsSize: number;
  actionSize: number;
  net: NetworkJson;
  inMean: number[];
  inStd: number[];
  outMean: number[];
  outStd: number[];
}

export class DeltaDynamicsModel implements LearnedModel {
  readonly cfg: DynamicsModelConfig;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly net: Mlp;
  readonly params: Float64Array;
  /** Input standardisation (obs, action) and target standardisation (Δs, r); null until first fit. */
  private stats: {
    inMean: Float64Array;
    inStd: Float64Array;
    outMean: Float64Array;
    outStd: Float64Array;
  } | null = null;
  private readonly opt: Adam;
  private readonly ws: MlpWorkspace;
  private readonly grad: Float64Array;
  private cap = 0;
  private x = new Float64Array(0);
  private dOut = new Float64Array(0);
  private batch: TransitionBatch | null = null;

  constructor(obsSize: number, actionSize: number, config: DynamicsModelConfigInput, rng: Rng) {
    this.cfg = DynamicsModelConfigSchema.parse(config);
    this.obsSize = obsSize;
    this.actionSize = actionSize;
    this.net = new Mlp(
      mlpSpec(obsSize + actionSize, this.cfg.hidden, this.cfg.activation as Activation, obsSize + 2),
    );
    this.params = this.net.init(rng);
    this.opt = new Adam(this.net.nParams, { lr: this.cfg.lr });
    this.ws = this.net.workspace();
    this.grad = new Float64Array(this.net.nParams);
  }

  get fitted(): boolean {
    return this.stats !== null;
  }

  private reserve(n: number): void {
    if (n <= this.cap) return;
    const dS = this.obsSize;
    const dA = this.actionSize;
    this.cap = n;
    this.x = new Float64Array(n * (dS + dA));
    this.dOut = new Float64Array(n * (dS + 2));
  }

  /** Standardisation statistics from the stored rows of `buffer` (mean, std per column). */
  private computeStats(buffer: ReplayBuffer): void {
    const dS = this.obsSize;
    const dA = this.actionSize;
    const m = buffer.size;
    const inMean = new Float64Array(dS + dA);
    const inSq = new Float64Array(dS + dA);
    const outMean = new Float64Array(dS + 1);
    const outSq = new Float64Array(dS + 1);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < dS; j++) {
        const s = buffer.obs[i * dS + j];
        const d = buffer.nextObs[i * dS + j] - s;
        inMean[j] += s / m;
        inSq[j] += (s * s) / m;
        outMean[j] += d / m;
        outSq[j] += (d * d) / m;
      }
      for (let j = 0; j < dA; j++) {
        const a = buffer.actions[i * dA + j];
        inMean[dS + j] += a / m;
        inSq[dS + j] += (a * a) / m;
      }
      const r = buffer.rewards[i];
      outMean[dS] += r / m;
      outSq[dS] += (r * r) / m;
    }
    const std = (mean: Float64Array, sq: Float64Array) =>
      mean.map((mu, j) => Math.max(this.cfg.minStd, Math.sqrt(Math.max(0, sq[j] - mu * mu))));
    this.stats = { inMean, inStd: std(inMean, inSq), outMean, outStd: std(outMean, outSq) };
  }

  /** Network input rows (standardised [obs, action]) into this.x. */
  private fillInput(obs: Float64Array, actions: Float64Array, n: number): void {
    const st = this.stats;
    if (st === null) throw new Error("DeltaDynamicsModel: predict before fit");
    const dS = this.obsSize;
    const dA = this.actionSize;
    const w = dS + dA;
    const x = this.x;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dS; j++) x[r * w + j] = (obs[r * dS + j] - st.inMean[j]) / st.inStd[j];
      for (let j = 0; j < dA; j++)
        x[r * w + dS + j] = (actions[r * dA + j] - st.inMean[dS + j]) / st.inStd[dS + j];
    }
  }

  predict(
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    nextObs: Float64Array,
    reward: Float64Array,
    cont: Float64Array,
  ): void {
    this.reserve(n);
    this.fillInput(obs, actions, n);
    const st = this.stats as NonNullable<typeof this.stats>;
    const dS = this.obsSize;
    const k = dS + 2;
    const out = this.net.forward(this.params, this.x, n, this.ws);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dS; j++)
        nextObs[r * dS + j] = obs[r * dS + j] + st.outMean[j] + st.outStd[j] * out[r * k + j];
      reward[r] = st.outMean[dS] + st.outStd[dS] * out[r * k + dS];
      // continuation = 1 − σ(logit) = σ(−logit)
      cont[r] = 1 / (1 + Math.exp(out[r * k + dS + 1]));
    }
  }

  /**
   * The loss (averaged over the batch's rows) and, when `grad` is given, its gradient with respect to the
   * parameters ADDED into `grad`. Rows: env-unit actions, raw rewards, terminated 0/1.
   */
  loss(batch: TransitionBatch, grad: Float64Array | null = null): number {
    const st = this.stats;
    if (st === null) throw new Error("DeltaDynamicsModel: loss before fit");
    const n = batch.size;
    const dS = this.obsSize;
    const k = dS + 2;
    this.reserve(n);
    this.fillInput(batch.obs, batch.actions, n);
    const out = this.net.forward(this.params, this.x, n, this.ws);
    const dOut = this.dOut;
    let loss = 0;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dS; j++) {
        const y = (batch.nextObs[r * dS + j] - batch.obs[r * dS + j] - st.outMean[j]) / st.outStd[j];
        const e = out[r * k + j] - y;
        loss += (0.5 * e * e) / n;
        dOut[r * k + j] = e / n;
      }
      const yr = (batch.rewards[r] - st.outMean[dS]) / st.outStd[dS];
      const er = out[r * k + dS] - yr;
      loss += (0.5 * er * er) / n;
      dOut[r * k + dS] = er / n;
      // BCE with logits: softplus(z) − d·z, derivative σ(z) − d
      const z = out[r * k + dS + 1];
      const d = batch.terminated[r];
      loss += (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - d * z) / n;
      dOut[r * k + dS + 1] = (1 / (1 + Math.exp(-z)) - d) / n;
    }
    if (grad !== null) this.net.backward(this.params, this.ws, dOut, grad);
    return loss;
  }

  /**
   * `updates` Adam steps on mini-batches drawn uniformly from `buffer` (standardisation statistics are
   * taken from it on the first call). Returns the mean loss over the steps (NaN for 0 updates).
   */
  fit(buffer: ReplayBuffer, updates: number, rng: Rng): number {
    if (buffer.size === 0) throw new RangeError("DeltaDynamicsModel.fit: the buffer is empty");
    if (this.stats === null) this.computeStats(buffer);
    const B = this.cfg.batchSize;
    this.batch ??= allocBatch(B, this.obsSize, this.actionSize);
    let total = 0;
    for (let u = 0; u < updates; u++) {
      buffer.sample(rng, B, this.batch);
      this.grad.fill(0);
      total += this.loss(this.batch, this.grad);
      this.opt.step(this.params, this.grad);
    }
    return updates > 0 ? total / updates : Number.NaN;
  }

  /** Mean loss over all stored rows of `buffer` (no step): a held-out check. */
  evaluate(buffer: ReplayBuffer): number {
    const n = buffer.size;
    const dS = this.obsSize;
    const dA = this.actionSize;
    return this.loss({
      size: n,
      obs: buffer.obs.subarray(0, n * dS),
      actions: buffer.actions.subarray(0, n * dA),
      rewards: buffer.rewards.subarray(0, n),
      nextObs: buffer.nextObs.subarray(0, n * dS),
      terminated: buffer.terminated.subarray(0, n),
    });
  }

  toJson(): DynamicsModelJson {
    const st = this.stats;
    if (st === null) throw new Error("DeltaDynamicsModel: nothing to save before fit");
    return {
      format: "sim2real/dynamics-model",
      version: 1,
      obsSize: this.obsSize,
      actionSize: this.actionSize,
      net: networkToJson(this.net.spec, this.params, "model"),
      inMean: toNumberArray("inMean", st.inMean),
      inStd: toNumberArray("inStd", st.inStd),
      outMean: toNumberArray("outMean", st.outMean),
      outStd: toNumberArray("outStd", st.outStd),
    };
  }

  /** A model with saved parameters and statistics (fresh optimiser; hidden sizes from the file). */
  static fromJson(json: DynamicsModelJson, config: DynamicsModelConfigInput, rng: Rng): DeltaDynamicsModel {
    if (json?.format !== "sim2real/dynamics-model" || json.version !== 1)
      throw new RangeError("not a sim2real dynamics model (format sim2real/dynamics-model, version 1)");
    const hidden = json.net.spec.sizes.slice(1, -1);
    const act = json.net.spec.activations[0];
    const model = new DeltaDynamicsModel(
      json.obsSize,
      json.actionSize,
      { ...config, hidden, activation: act === "linear" ? "relu" : act },
      rng,
    );
    checkNetworkShape("model", json.net, model.net.spec);
    model.params.set(fromNumberArray("model", json.net.params, model.net.nParams));
    const dS = json.obsSize;
    const dA = json.actionSize;
    model.stats = {
      inMean: fromNumberArray("inMean", json.inMean, dS + dA),
      inStd: fromNumberArray("inStd", json.inStd, dS + dA),
      outMean: fromNumberArray("outMean", json.outMean, dS + 1),
      outStd: fromNumberArray("outStd", json.outStd, dS + 1),
    };
    return model;
  }
}
