/** Classic-control envs, the batched VecEnv, gaps, the registry and the envs' parametric models. */
export {
  CARTPOLE_DEFAULTS,
  CARTPOLE_THETA_THRESHOLD,
  CARTPOLE_X_THRESHOLD,
  CartPoleEnv,
  cartpole,
  cartpoleStep,
  cartpoleTerminated,
} from "./cartpole.ts";
export {
  actionSize,
  type Box,
  box,
  type ControlEnv,
  clipAction,
  type EnvParams,
  obsSize,
  type ParamRoles,
  resolveParams,
  type StepResult,
} from "./env.ts";
export {
  actionScale,
  applyGaps,
  damping,
  type Gap,
  latency,
  makeGap,
  massScale,
  obsNoise,
  sgftFriction,
  sgftFrictionAccel,
} from "./gaps.ts";
export {
  CARTPOLE_NOISE_STD,
  CARTPOLE_THETA,
  CONTROL_MODELS,
  type ControlModel,
  type ControlModelOptions,
  cartpoleModel,
  PENDULUM_NOISE_STD,
  PENDULUM_THETA,
  pendulumModel,
  REACHER_NOISE_STD,
  REACHER_THETA,
  reacherModel,
} from "./models.ts";
export {
  angleNormalize,
  PENDULUM_DEFAULTS,
  PendulumEnv,
  pendulum,
  pendulumAccel,
  pendulumReward,
  SGFT_FRICTION_V0,
} from "./pendulum.ts";
export {
  REACHER_DEFAULTS,
  ReacherEnv,
  reacher,
  reacherFingertip,
  reacherKineticEnergy,
  reacherMass,
  reacherReward,
  reacherStep,
} from "./reacher.ts";
export {
  ENVS,
  type EnvEntry,
  GAP_SYNTAX,
  GAPS,
  type GapEntry,
  makeEnv,
  parseGap,
  parseGaps,
} from "./registry.ts";
export { VecEnv, type VecStepResult } from "./vec-env.ts";
