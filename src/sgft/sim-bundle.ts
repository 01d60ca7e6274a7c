/**
 * What simulation hands to real-world fine-tuning (sgft-paper.md Appendix C): the SAC agent trained in
 * the simulator (actor, critics, and the value network V_sim regressed toward Q(s, π(s)) during training —
 * src/inner/sac.ts), and a delta-dynamics model p̂ fitted on the simulator's transitions (the paper trains
 * it jointly with SAC in simulation; fitting it on the final replay buffer uses the same data).
 */
import type { ReplayBuffer } from "../inner/replay-buffer.ts";
import { ReplayBuffer as Buffer } from "../inner/replay-buffer.ts";
import type { RlMetricsCallback, RlTask } from "../inner/rl-common.ts";
import { type SacCheckpoint, type SacConfigInput, trainSac } from "../inner/sac.ts";
import type { Rng } from "../math/rng.ts";
import { Mlp } from "../nn/index.ts";
import {
  DeltaDynamicsModel,
  type DynamicsModelConfigInput,
  type DynamicsModelJson,
} from "./dynamics-model.ts";
import type { ValueFn } from "./types.ts";

export interface SimBundle {
  format: "sim2real/sim-bundle";
  version: 1;
  /** Task the bundle was trained on (the simulator). */
  env: string;
  /** Discount of V_sim. */
  gamma: number;
  sac: SacCheckpoint;
  model: DynamicsModelJson;
  /** Simulator steps behind the SAC agent, and the model's final training loss. */
  simSteps: number;
  modelLoss: number;
}

/** V_sim from a SAC checkpoint's value network: its own copy of the parameters, frozen. */
export function valueFromCheckpoint(ckpt: SacCheckpoint): ValueFn {
  if (ckpt.value === null) throw new RangeError("the SAC checkpoint has no value network (V_sim)");
  const net = new Mlp(ckpt.value.spec);
  const params = Float64Array.from(ckpt.value.params);
  if (params.length !== net.nParams) throw new RangeError("value network: parameter count does not match");
  const ws = net.workspace();
  return (obs, n, out) => {
    out.set(net.forward(params, obs, n, ws).subarray(0, n));
  };
}

/** A copy of SAC's buffer (normalised actions) with env-unit actions, for the model. */
export function toEnvUnits(buffer: ReplayBuffer, low: Float64Array, high: Float64Array): ReplayBuffer {
  const dS = buffer.obsSize;
  const dA = buffer.actionSize;
  const out = new Buffer(Math.max(1, buffer.size), dS, dA);
  const a = new Float64Array(dA);
  for (let i = 0; i < buffer.size; i++) {
    for (let j = 0; j < dA; j++)
      a[j] = 0.5 * (high[j] + low[j]) + 0.5 * (high[j] - low[j]) * buffer.actions[i * dA + j];
    out.add(
      buffer.obs.subarray(i * dS, (i + 1) * dS),
      a,
      buffer.rewards[i],
      buffer.nextObs.subarray(i * dS, (i + 1) * dS),
      buffer.terminated[i],
    );
  }
  return out;
}

/**
 * Train SAC in simulation (value network on), then fit the dynamics model on its replay buffer with
 * `modelUpdates` Adam steps. Deterministic for the state of `rng` and of the task's envs.
 */
export function pretrainInSim(
  envName: string,
  task: RlTask,
  sac: SacConfigInput,
  model: DynamicsModelConfigInput,
  modelUpdates: number,
  rng: Rng,
  onMetrics?: RlMetricsCallback,
): SimBundle {
  const res = trainSac(
    task,
    { ...sac, value: { ...(sac.value ?? {}), enabled: true } },
    rng.split(),
    onMetrics,
  );
  const ckpt = res.checkpoint();
  const data = toEnvUnits(res.buffer, res.agent.box.low, res.agent.box.high);
  const m = new DeltaDynamicsModel(data.obsSize, data.actionSize, model, rng.split());
  const loss = m.fit(data, modelUpdates, rng.split());
  onMetrics?.(res.steps, { "model/loss": loss, "model/evalLoss": m.evaluate(data) });
  return {
    format: "sim2real/sim-bundle",
    version: 1,
    env: envName,
    gamma: res.agent.cfg.gamma,
    sac: ckpt,
    model: m.toJson(),
    simSteps: res.steps,
    modelLoss: loss,
  };
}
