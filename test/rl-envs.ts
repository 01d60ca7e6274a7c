/** Tiny environments with known answers, shared by the SAC and PPO tests. */
import {
  box,
  type ControlEnv,
  clipAction,
  type EnvParams,
  type StepResult,
} from "../src/envs/control/env.ts";
import type { Rng } from "../src/math/rng.ts";

/**
 * A one-step contextual bandit: context c ~ U(−1, 1), action a ∈ [−1, 1], reward −(a − c/2)², then the
 * episode terminates. The optimal action is c/2 and Q(c, a) = −(a − c/2)² exactly.
 */
export class BanditEnv implements ControlEnv {
  readonly id = "bandit";
  readonly description = "one-step bandit, optimum a = c/2";
  readonly stateSize = 1;
  readonly observationSpace = box([-1], [1]);
  readonly actionSpace = box([-1], [1]);
  readonly maxSteps = 10;
  readonly defaultParams: EnvParams = {};
  private readonly a = new Float64Array(1);
  reset(_p: EnvParams, s: Float64Array, rng: Rng): void {
    s[0] = 2 * rng.uniform() - 1;
  }
  observe(_p: EnvParams, s: Float64Array, o: Float64Array): void {
    o[0] = s[0];
  }
  step(_p: EnvParams, s: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    const a = clipAction(this.actionSpace, action, this.a)[0];
    out.reward = -((a - 0.5 * s[0]) ** 2);
    out.terminated = true;
  }
}
