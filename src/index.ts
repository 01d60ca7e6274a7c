/**
 * The public surface of sim2real. Everything else under src/ is internal and may change.
 *
 * Where things live: Theorem 1 of the bi-level paper — exact tabular (sensitivity/tabular-exact.ts),
 * sampled tabular (sensitivity/tabular-sampled.ts), sampled and Hessian-free for any differentiable
 * policy and model (sensitivity/sampled.ts); Algorithm 1 — outer/bilevel.ts (tabular),
 * outer/bilevel-linear-gaussian.ts, outer/bilevel-general.ts (neural networks).
 */

export { normalisedObservations, type ObservationStats } from "./envs/control/normalised.ts";
export { domainRandomised, type ParamRanges } from "./envs/control/randomised.ts";
// Problems and simulators.
export type { LinearGaussianProblem } from "./envs/linear-gaussian.ts";
export { loadAnyProblem } from "./envs/linear-gaussian-problem.ts";
export { envNames, makeAnyEnv, taskSuccess } from "./envs/make-env.ts";
export {
  GaussianMeanModel,
  linearGaussianModel,
  type ParametricModel,
  tabularModel,
} from "./envs/parametric-model.ts";
export type { TabularMDP, TabularProblem } from "./envs/tabular.ts";
export { problemSimulator, thetaFromMDP } from "./envs/tabular.ts";
export { parseTabularProblem } from "./envs/tabular-problem.ts";
export {
  aggregatedStatesProblem,
  doubleIntegratorProblem,
  paperContinuousProblem,
  paperDiscreteProblem,
} from "./experiments/problems.ts";
// Inner solvers.
export { ActorCriticConfigSchema, trainActorCritic } from "./inner/actor-critic.ts";
export { maximizeExpectedReturn } from "./inner/linear-gaussian-exact.ts";
export { discountedLqr } from "./inner/lqr.ts";
export { softPolicyIteration } from "./inner/soft-policy-iteration.ts";
// Matrix-free solvers for the implicit-function step.
export { bicgstab, conjugateGradient, gmres, type LinearOperator, solveLinear } from "./math/krylov.ts";
// Randomness: one seed, independent streams, passed in explicitly.
export { Rng } from "./math/rng.ts";
// MPC policies (issue 9): LQ and DDP model-predictive control, du₀*∕dθ by the implicit function theorem.
// (RL over MPC, the outer level: mpc/controller.ts, linear-feedback.ts, outer.ts, q-critic.ts.)
export type { DifferentiableController } from "./mpc/controller.ts";
export {
  CartpoleMpcConfigSchema,
  cartpoleMpc,
  IlqrMpcController,
  IlqrSolverConfigSchema,
  PendulumMpcConfigSchema,
  pendulumMpc,
  solveIlqr,
} from "./mpc/ilqr-mpc.ts";
export { LinearFeedbackController } from "./mpc/linear-feedback.ts";
export { LqMpcConfigSchema, LqMpcController } from "./mpc/lq-mpc.ts";
export { type Ocp, ParametricOcp } from "./mpc/ocp.ts";
export {
  CountedRealSystem,
  collectBatch,
  MpcOuterConfigSchema,
  runMpcOuter,
  type StepRealSystem,
} from "./mpc/outer.ts";
export { compatibleFeatures, fitLstd, polynomialFeatures, type RealBatch } from "./mpc/q-critic.ts";
export { controlSensitivity } from "./mpc/sensitivity.ts";
// Networks and optimisers.
export { type Activation, Adam, Mlp, type MlpSpec } from "./nn/index.ts";
// Outer level: bi-level adaptation and the classical alternatives.
export { BilevelConfigSchema, type MetricsCallback, runBilevel } from "./outer/bilevel.ts";
export {
  GeneralBilevelConfigSchema,
  ModelRealSystem,
  type RealSystem,
  reinforcePolicyGradient,
  rolloutModel,
  runGeneralBilevel,
} from "./outer/bilevel-general.ts";
export { LinearBilevelConfigSchema, runLinearBilevel } from "./outer/bilevel-linear-gaussian.ts";
export { runDomainRandomisationLinear, runDomainRandomisationTabular } from "./outer/domain-randomisation.ts";
export { runHybridLinear, runHybridTabular } from "./outer/hybrid.ts";
export { runSysIdLinear, runSysIdTabular } from "./outer/system-identification.ts";
export { runZerothOrderLinear, runZerothOrderTabular } from "./outer/zeroth-order.ts";
// Policies.
export { CategoricalMlpPolicy, GaussianMlpPolicy } from "./policies/mlp-policies.ts";
export {
  type BoundBatch,
  bindBatch,
  type DifferentiablePolicy,
  LinearGaussianPolicyAdapter,
  TabularSoftmaxPolicy,
} from "./policies/policy.ts";
// Control suite: train a policy on a task (+ gaps), policy files (`sim2real train`), evaluation (`eval`).
export {
  type PolicyFile,
  readPolicyFile,
  restorePolicy,
  writePolicyFile,
} from "./rl/checkpoint-file.ts";
export { evaluatePolicy } from "./rl/evaluate.ts";
export { resolveTrainConfig, trainPolicy } from "./rl/train.ts";
// Sensitivities (Theorem 1).
export {
  SampledTheorem1,
  SampledTheorem1ConfigSchema,
  sampledOuterGradient,
  sampleSegments,
  type ValueFunction,
} from "./sensitivity/sampled.ts";
export {
  adjointOuterGradient,
  closedFormSensitivity,
  iftSensitivity,
  theorem1Terms,
} from "./sensitivity/tabular-exact.ts";
export { sampledTheorem1 } from "./sensitivity/tabular-sampled.ts";
// Simulation-guided fine-tuning: eq. (1) relabelling, the sim bundle, SGFT-SAC (Algorithm 2), baselines.
export { DeltaDynamicsModel, DynamicsModelConfigSchema } from "./sgft/dynamics-model.ts";
export { type FinetunePoint, type FinetuneResult, runFinetune } from "./sgft/finetune.ts";
export { FINETUNE_METHODS, type FinetuneMethod, runFinetuneMethod } from "./sgft/methods.ts";
// Simulation-guided fine-tuning: MPPI over a learned model, MPC-SGFT (Algorithm 3).
export { Mppi, type MppiConfigInput, MppiConfigSchema, type MppiDiagnostics } from "./sgft/mppi.ts";
export { runSacFinetune, SAC_FINETUNE_PRESETS, SacFinetuneConfigSchema } from "./sgft/sac-finetune.ts";
export {
  type FittableModel,
  runSgftMpc,
  type SgftMpcArgs,
  type SgftMpcConfigInput,
  SgftMpcConfigSchema,
  type SgftMpcEvaluation,
  type SgftMpcResult,
} from "./sgft/sgft-mpc.ts";
export { runSgftSac, SgftSacConfigSchema, sgftTargets } from "./sgft/sgft-sac.ts";
export { relabelledSegmentReturn, ShapedVecEnv, segmentObjective, shapedReward } from "./sgft/shaping.ts";
export {
  DomainRandConfigSchema,
  runDomainRandomisation,
  runSysIdRetrain,
  SysIdRetrainConfigSchema,
} from "./sgft/sim-baselines.ts";
export { pretrainInSim, type SimBundle, valueFromCheckpoint } from "./sgft/sim-bundle.ts";
export { fitPendulumGap } from "./sgft/system-identification.ts";
