/**
 * Entropy-regularised actor-critic (DESIGN §4.1): trains any DifferentiablePolicy in a ParametricModel at
 * fixed simulator parameters θ on J_τ = E Σ γ^t (R_θ − τ log π), until the policy-gradient estimate ‖φ̂‖
 * is near zero, and reports ‖φ̂‖ so callers see how converged the inner solve is.
 *
 * Sampling: N walkers run one *discounted stream* each: after every transition the walker restarts from
 * the initial-state sampler with probability 1 − γ, else continues from s′. The walkers persist across
 * iterations, so their states are distributed as the normalised discounted visitation (1 − γ)d_π, and
 *   φ̂ = 1/(1 − γ) · mean_t ∇log π(a_t|s_t) Â_t
 * is an unbiased estimate of ∇J_τ (in the units of critics/tabular.ts `softmaxPolicyGradient`) whenever
 * Â is, and mean_t r̃_t/(1 − γ) is an unbiased estimate of J_τ itself (r̃ = R − τ log π). The entropy
 * term needs no extra score term: E_a[∇log π] = 0.
 *
 * Advantages: δ_t = r̃_t + γ V(s′_t) − V(s_t) (always bootstrapped with the sampled s′, also when the
 * walker then restarts), GAE Â_t = δ_t + λ c_t Â_{t+1} with c_t = 1 if the walker continued. The
 * continuation happens with probability γ, so this has the expectation of the usual Σ (γλ)^k δ_{t+k};
 * λ = 0 is TD(0), λ = 1 is Monte-Carlo (unbiased whatever the critic, bootstrapped only at the batch cut).
 * Critic targets are the λ-returns Â_t + V(s_t): a table for discrete-state models, else an MLP.
 *
 * Stopping: φ̄ = mean φ̂ over the last `window` iterations, se its standard error from the spread in the
 * window; stop when ‖φ̄‖ + confidence·se ≤ gradTol. Testing ‖φ̄‖ alone stops on the first lucky noisy draw
 * (measured: a Gaussian run stopped at |∇J| = 0.12 with ‖φ̄‖ = 0.001). φ is returned averaged over the
 * same window, the point φ̄ describes.
 */
import { z } from "zod";
import type { ParametricModel } from "../envs/parametric-model.ts";
import type { Rng } from "../math/rng.ts";
import { type Activation, Adam, Mlp, type MlpWorkspace, squaredErrorLoss } from "../nn/index.ts";
import { type DifferentiablePolicy, TabularSoftmaxPolicy } from "../policies/policy.ts";

export const ActorCriticConfigSchema = z.object({
  temperature: z
    .number()
    .nonnegative()
    .default(0.5)
    .describe("Entropy temperature τ ≥ 0 (0: plain return, e.g. a Gaussian policy with fixed std)"),
  gamma: z.number().gt(0).lt(1).default(0.9).describe("Discount γ; also 1 − γ is the restart probability"),
  maxIterations: z.number().int().positive().default(500).describe("Actor updates at most"),
  walkers: z.number().int().positive().default(16).describe("N parallel discounted streams"),
  steps: z.number().int().positive().default(32).describe("H transitions per walker per iteration"),
  actorLr: z.number().positive().default(0.05).describe("Adam (maximize) step size of the policy"),
  actorLrDecay: z
    .number()
    .nonnegative()
    .default(0)
    .describe("lr_k = actorLr / (1 + actorLrDecay·k): damps the jitter of a noisy gradient near φ*"),
  lambda: z
    .number()
    .min(0)
    .max(1)
    .default(0.9)
    .describe("GAE λ of advantages and critic targets (0: TD(0), 1: Monte-Carlo)"),
  gradTol: z
    .number()
    .nonnegative()
    .default(0.05)
    .describe(
      "Stop when ‖φ̄‖ + confidence·se ≤ gradTol (φ̄ the window mean of φ̂, se its standard error): in units of J_τ per unit φ",
    ),
  confidence: z
    .number()
    .nonnegative()
    .default(2)
    .describe(
      "Standard errors added to ‖φ̄‖ before the test: stopping on a lucky noisy draw is the bias this avoids",
    ),
  window: z
    .number()
    .int()
    .positive()
    .default(20)
    .describe("Iterations averaged for the reported ‖φ̂‖ (and the returned φ, see averagePhi)"),
  averagePhi: z
    .boolean()
    .default(true)
    .describe("Return the mean φ of the last `window` iterations (the point the averaged φ̂ refers to)"),
  critic: z
    .object({
      kind: z
        .enum(["auto", "table", "mlp"])
        .default("auto")
        .describe(
          "auto: a table when the state count is known (TabularSoftmaxPolicy or `states`), else an MLP",
        ),
      states: z.number().int().positive().optional().describe("State count of a discrete-state model"),
      lr: z.number().positive().default(0.5).describe("Table: step towards the per-state mean target"),
      hidden: z.array(z.number().int().positive()).default([32, 32]).describe("MLP hidden widths"),
      activation: z.enum(["tanh", "relu", "softplus"]).default("tanh").describe("MLP hidden activation"),
      mlpLr: z.number().positive().default(0.01).describe("MLP: Adam step size (minimise squared error)"),
      epochs: z.number().int().positive().default(5).describe("MLP: full-batch Adam steps per iteration"),
    })
    .prefault({}),
  initPhi: z
    .custom<ArrayLike<number>>((v) => v instanceof Float64Array || Array.isArray(v))
    .optional()
    .describe("Starting policy parameters (default zeros: uniform softmax, K = 0)"),
  initCritic: z
    .custom<ArrayLike<number>>((v) => v instanceof Float64Array || Array.isArray(v))
    .optional()
    .describe("Starting critic parameters (a previous result's criticParams: warm start)"),
});
export type ActorCriticConfig = z.infer<typeof ActorCriticConfigSchema>;
export type ActorCriticConfigInput = z.input<typeof ActorCriticConfigSchema>;

export type InitialStateSampler = (rng: Rng) => ArrayLike<number>;
export type ActorCriticMetricsCallback = (iteration: number, metrics: Record<string, number>) => void;

export interface ActorCriticRecord {
  iteration: number;
  /** ‖φ̄‖, φ̄ the mean φ̂ of the last `window` iterations. */
  gradNorm: number;
  /** Standard error of φ̄ (norm of the per-coordinate errors, from the spread within the window). */
  gradStdErr: number;
  /** ‖φ̂‖ of this iteration's batch alone. */
  batchGradNorm: number;
  /** Estimate of J_τ from this batch: mean r̃ / (1 − γ). */
  return: number;
  /** Mean ½(V − target)² before this iteration's critic update. */
  criticLoss: number;
}

export interface ActorCriticResult {
  phi: Float64Array;
  /** Final window-averaged ‖φ̂‖: how far from stationary the returned policy is (estimate). */
  gradNorm: number;
  /** Its standard error: ‖∇J_τ‖ ≲ gradNorm + 2·gradStdErr. */
  gradStdErr: number;
  /** The final window-averaged φ̂ itself. */
  grad: Float64Array;
  history: ActorCriticRecord[];
  iterations: number;
  converged: boolean;
  /** The final critic V(s) (soft value of the returned policy, as learned), and its parameters. */
  value: (obs: Float64Array, n: number, out: Float64Array) => void;
  criticParams: Float64Array;
}

/** V_w(s) for a batch, and one regression step towards targets; returns the loss before the step. */
interface Critic {
  values(obs: Float64Array, n: number, out: Float64Array): void;
  fit(obs: Float64Array, targets: Float64Array, n: number): number;
  /** The parameters (table or MLP weights), live. */
  params: Float64Array;
}

function tableCritic(S: number, lr: number, init?: ArrayLike<number>): Critic {
  const V = new Float64Array(S);
  if (init !== undefined) {
    if (init.length !== S) throw new RangeError(`initCritic: expected ${S} entries, got ${init.length}`);
    V.set(Array.from(init));
  }
  const sum = new Float64Array(S);
  const count = new Float64Array(S);
  return {
    params: V,
    values(obs, n, out) {
      for (let i = 0; i < n; i++) out[i] = V[obs[i]];
    },
    // The least-squares fit of a table is the per-state mean target; step part-way (targets are noisy).
    fit(obs, targets, n) {
      sum.fill(0);
      count.fill(0);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const e = V[obs[i]] - targets[i];
        loss += 0.5 * e * e;
        sum[obs[i]] += targets[i];
        count[obs[i]]++;
      }
      for (let s = 0; s < S; s++) if (count[s] > 0) V[s] += lr * (sum[s] / count[s] - V[s]);
      return loss / n;
    },
  };
}

function mlpCritic(
  obsSize: number,
  cfg: ActorCriticConfig["critic"],
  rng: Rng,
  init?: ArrayLike<number>,
): Critic {
  const acts: Activation[] = cfg.hidden.map(() => cfg.activation);
  const net = new Mlp({ sizes: [obsSize, ...cfg.hidden, 1], activations: [...acts, "linear"] });
  const w = net.init(rng);
  if (init !== undefined) {
    if (init.length !== w.length)
      throw new RangeError(`initCritic: expected ${w.length} entries, got ${init.length}`);
    w.set(Array.from(init));
  }
  const opt = new Adam(net.nParams, { lr: cfg.mlpLr });
  const ws: MlpWorkspace = net.workspace();
  const grad = new Float64Array(net.nParams);
  return {
    params: w,
    values(obs, n, out) {
      // Chunks keep the workspace small when callers evaluate many states at once.
      for (let i = 0; i < n; i += 4096) {
        const m = Math.min(4096, n - i);
        out.set(net.forward(w, obs.subarray(i * obsSize, (i + m) * obsSize), m, ws).subarray(0, m), i);
      }
    },
    fit(obs, targets, n) {
      let first = 0;
      for (let e = 0; e < cfg.epochs; e++) {
        const loss = squaredErrorLoss(net.forward(w, obs, n, ws), targets, n, 1, undefined);
        if (e === 0) first = loss.value / n;
        grad.fill(0);
        net.backward(w, ws, loss.grad, grad);
        for (let k = 0; k < grad.length; k++) grad[k] /= n;
        opt.step(w, grad);
      }
      return first;
    },
  };
}

function norm(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/**
 * Train `policy` in `model` at θ. Deterministic for the state of `rng`; never prints: per-iteration
 * metrics go to `onMetrics` as `inner/gradNorm` (windowed), `inner/gradStdErr`, `inner/batchGradNorm`, `inner/return`,
 * `inner/criticLoss`.
 */
export function trainActorCritic(
  model: ParametricModel,
  policy: DifferentiablePolicy,
  theta: ArrayLike<number>,
  initialState: InitialStateSampler,
  config: ActorCriticConfigInput,
  rng: Rng,
  onMetrics?: ActorCriticMetricsCallback,
): ActorCriticResult {
  const cfg = ActorCriticConfigSchema.parse(config);
  const { gamma, temperature: tau, walkers: N, steps: H, lambda, window } = cfg;
  const dS = policy.obsSize;
  const dA = policy.actionSize;
  if (model.obsSize !== dS || model.actionSize !== dA)
    throw new RangeError(
      `model (obs ${model.obsSize}, action ${model.actionSize}) and policy (obs ${dS}, action ${dA}) disagree`,
    );
  const P = policy.nParams;
  const phi = new Float64Array(P);
  if (cfg.initPhi !== undefined) {
    if (cfg.initPhi.length !== P)
      throw new RangeError(`initPhi: expected ${P} entries, got ${cfg.initPhi.length}`);
    phi.set(Array.from(cfg.initPhi));
  }

  const states = cfg.critic.states ?? (policy instanceof TabularSoftmaxPolicy ? policy.S : undefined);
  const kind = cfg.critic.kind === "auto" ? (states !== undefined ? "table" : "mlp") : cfg.critic.kind;
  let critic: Critic;
  if (kind === "table") {
    if (states === undefined || dS !== 1)
      throw new RangeError("a table critic needs one-index states and a state count (critic.states)");
    critic = tableCritic(states, cfg.critic.lr, cfg.initCritic);
  } else critic = mlpCritic(dS, cfg.critic, rng, cfg.initCritic);

  const opt = new Adam(P, { lr: cfg.actorLr, maximize: true });
  const T = N * H;
  // Time-major batch: row t·N + i is walker i at step t, so one policy call covers all walkers.
  const obs = new Float64Array(T * dS);
  const next = new Float64Array(T * dS);
  const act = new Float64Array(T * dA);
  const logp = new Float64Array(T);
  const rt = new Float64Array(T);
  const cont = new Uint8Array(T);
  const v = new Float64Array(T);
  const v2 = new Float64Array(T);
  const adv = new Float64Array(T);
  const target = new Float64Array(T);
  const g = new Float64Array(P);
  const cur = new Float64Array(N * dS);
  for (let i = 0; i < N; i++) cur.set(initialState(rng), i * dS);

  // Ring buffers of the last `window` gradients and parameters, for the windowed statistics.
  const gHist: Float64Array[] = [];
  const phiHist: Float64Array[] = [];
  const gMean = new Float64Array(P);
  const history: ActorCriticRecord[] = [];
  let converged = false;
  let it = 0;

  for (; it < cfg.maxIterations; it++) {
    let rSum = 0;
    for (let t = 0; t < H; t++) {
      const row = t * N;
      obs.set(cur, row * dS);
      const o = obs.subarray(row * dS, (row + N) * dS);
      const a = act.subarray(row * dA, (row + N) * dA);
      policy.sample(phi, o, N, rng, a);
      policy.logProb(phi, o, a, N, logp.subarray(row, row + N));
      for (let i = 0; i < N; i++) {
        const s = o.subarray(i * dS, (i + 1) * dS);
        const ai = a.subarray(i * dA, (i + 1) * dA);
        const r = model.reward(theta, s, ai) - tau * logp[row + i];
        rt[row + i] = r;
        rSum += r;
        const s2 = model.sampleNext(theta, s, ai, rng);
        next.set(s2, (row + i) * dS);
        const goOn = rng.uniform() < gamma;
        cont[row + i] = goOn ? 1 : 0;
        cur.set(goOn ? s2 : initialState(rng), i * dS);
      }
    }

    critic.values(obs, T, v);
    critic.values(next, T, v2);
    // GAE backwards in time per walker; the chain is cut at restarts and at the batch end.
    for (let i = 0; i < N; i++) {
      let acc = 0;
      for (let t = H - 1; t >= 0; t--) {
        const k = t * N + i;
        const delta = rt[k] + gamma * v2[k] - v[k];
        acc = delta + (t < H - 1 && cont[k] ? lambda * acc : 0);
        adv[k] = acc;
        target[k] = acc + v[k];
      }
    }

    g.fill(0);
    policy.scoreSum(phi, obs, act, T, adv, g);
    const scale = 1 / ((1 - gamma) * T);
    for (let k = 0; k < P; k++) g[k] *= scale;
    const criticLoss = critic.fit(obs, target, T);

    gHist.push(Float64Array.from(g));
    phiHist.push(Float64Array.from(phi));
    if (gHist.length > window) {
      gHist.shift();
      phiHist.shift();
    }
    const W = gHist.length;
    gMean.fill(0);
    for (const h of gHist) for (let k = 0; k < P; k++) gMean[k] += h[k] / W;
    // se² = Σ_k var_k / W; the drift of φ within the window inflates var_k, which errs on the safe side.
    let se2 = 0;
    if (W > 1)
      for (const h of gHist) for (let k = 0; k < P; k++) se2 += (h[k] - gMean[k]) ** 2 / ((W - 1) * W);
    const rec: ActorCriticRecord = {
      iteration: it,
      gradNorm: norm(gMean),
      gradStdErr: Math.sqrt(se2),
      batchGradNorm: norm(g),
      return: rSum / T / (1 - gamma),
      criticLoss,
    };
    history.push(rec);
    onMetrics?.(it, {
      "inner/gradNorm": rec.gradNorm,
      "inner/gradStdErr": rec.gradStdErr,
      "inner/batchGradNorm": rec.batchGradNorm,
      "inner/return": rec.return,
      "inner/criticLoss": rec.criticLoss,
    });
    if (W === window && rec.gradNorm + cfg.confidence * rec.gradStdErr <= cfg.gradTol) {
      converged = true;
      it++;
      break;
    }
    opt.lr = cfg.actorLr / (1 + cfg.actorLrDecay * it);
    opt.step(phi, g);
  }

  // The windowed φ̂ was measured at the windowed parameters, not at the last step's φ.
  const out = new Float64Array(P);
  if (cfg.averagePhi && phiHist.length > 0) {
    for (const h of phiHist) for (let k = 0; k < P; k++) out[k] += h[k] / phiHist.length;
  } else out.set(phi);
  return {
    phi: out,
    gradNorm: history.length > 0 ? history[history.length - 1].gradNorm : Number.NaN,
    gradStdErr: history.length > 0 ? history[history.length - 1].gradStdErr : Number.NaN,
    grad: gMean,
    history,
    iterations: it,
    converged,
    value: (o, n, outV) => critic.values(o, n, outV),
    criticParams: Float64Array.from(critic.params),
  };
}
