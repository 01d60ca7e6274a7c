/**
 * The fine-tuning methods by name — what `sim2real finetune` and scripts/sgft-bench.ts run — each wired the
 * same way from a sim bundle: SGFT-SAC (Algorithm 2), MPC-SGFT (Algorithm 3: MPPI over the bundle's model,
 * V_sim terminal value, the sim actor as the sampler's prior), and the SAC / PBRS-SAC baselines.
 */
import type { RlMetricsCallback, RlTask } from "../inner/rl-common.ts";
import { SacAgent } from "../inner/sac.ts";
import { Rng } from "../math/rng.ts";
import { DeltaDynamicsModel } from "./dynamics-model.ts";
import type { FinetunePoint } from "./finetune.ts";
import { runSacFinetune, SAC_FINETUNE_PRESETS, SacFinetuneConfigSchema } from "./sac-finetune.ts";
import { runSgftMpc, SgftMpcConfigSchema } from "./sgft-mpc.ts";
import { runSgftSac, SgftSacConfigSchema } from "./sgft-sac.ts";
import { type SimBundle, valueFromCheckpoint } from "./sim-bundle.ts";

export const FINETUNE_METHODS = ["sgft-sac", "sgft-mpc", "sac", "pbrs-sac"] as const;
export type FinetuneMethod = (typeof FINETUNE_METHODS)[number];

/** The config schema a method's `config` overrides are validated against. */
export function finetuneConfigSchema(method: FinetuneMethod) {
  return method === "sgft-sac"
    ? SgftSacConfigSchema
    : method === "sgft-mpc"
      ? SgftMpcConfigSchema
      : SacFinetuneConfigSchema;
}

/** H by default: 1 for SGFT-SAC (the paper's SAC instantiation), 4 for MPC-SGFT (its TD-MPC2 one). */
export function defaultHorizon(method: FinetuneMethod): number {
  return method === "sgft-mpc" ? 4 : 1;
}

export interface FinetuneMethodArgs {
  method: FinetuneMethod;
  /** The "real" system (one copy) and its evaluation copies. */
  task: RlTask;
  bundle: SimBundle;
  seed: number;
  horizon?: number;
  /** Real-transition budget and evaluation spacing (the methods' defaults when absent). */
  realSteps?: number;
  evalInterval?: number;
  /** Further config fields of the method (validated by its schema). */
  config?: Record<string, unknown>;
  onMetrics?: RlMetricsCallback;
}

export interface FinetuneMethodResult {
  points: FinetunePoint[];
  /** The config given to the method (before its defaults). */
  config: Record<string, unknown>;
  /** `sgft-sac-H1`, `sgft-mpc-H4`, `sac`, `pbrs-sac`. */
  label: string;
}

export function runFinetuneMethod(a: FinetuneMethodArgs): FinetuneMethodResult {
  const { method, task, bundle, seed, onMetrics } = a;
  const horizon = a.horizon ?? defaultHorizon(method);
  const budget = {
    ...(a.realSteps !== undefined ? { realSteps: a.realSteps } : {}),
    ...(a.evalInterval !== undefined ? { evalInterval: a.evalInterval } : {}),
  };
  const extra = a.config ?? {};
  const args = { task, bundle, rng: Rng.fromSeed(seed), onMetrics };
  if (method === "sgft-sac") {
    const config = { ...budget, gamma: bundle.gamma, horizon, ...extra };
    return { points: runSgftSac(args, config).points, config, label: `sgft-sac-H${horizon}` };
  }
  if (method === "sac" || method === "pbrs-sac") {
    const config = { ...budget, gamma: bundle.gamma, ...SAC_FINETUNE_PRESETS[method], ...extra };
    return { points: runSacFinetune(args, config).points, config, label: method };
  }
  const agent = SacAgent.fromCheckpoint(bundle.sac, {}, Rng.fromSeed(seed));
  // A config's own `mppi` fields are merged over H and V_sim's γ (not replacing them: a config that only
  // sets, say, the sample count keeps the horizon).
  const mppiExtra = (extra.mppi ?? {}) as Record<string, unknown>;
  const config = { ...budget, ...extra, mppi: { horizon, gamma: bundle.gamma, ...mppiExtra } };
  const res = runSgftMpc({
    realEnv: task.env,
    evalEnv: task.evalEnv,
    model: DeltaDynamicsModel.fromJson(bundle.model, {}, Rng.fromSeed(seed + 1)),
    valueFn: valueFromCheckpoint(bundle.sac),
    prior: (o, n, out, r) => agent.act(o, n, out, false, r),
    config,
    rng: Rng.fromSeed(seed),
    onMetrics,
  });
  const points = res.evaluations.map((e) => ({
    realTransitions: e.realTransitions,
    return: e.return,
    std: e.std,
  }));
  return { points, config, label: `sgft-mpc-H${horizon}` };
}
