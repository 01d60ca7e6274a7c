/** Small Float64 neural networks: MLPs with exact gradients, JVPs and Hessian-vector products; Adam. */
export { Adam, type AdamOptions, type AdamState } from "./adam.ts";
export {
  type Activation,
  categoricalLogProbLoss,
  concatParams,
  gaussianLogProbLoss,
  type HvpOptions,
  type InitOptions,
  initParams,
  type LayerView,
  layerViews,
  Mlp,
  type MlpSpec,
  MlpWorkspace,
  type OutputHessian,
  type OutputLoss,
  paramCount,
  splitParams,
  squaredErrorLoss,
  validateSpec,
} from "./mlp.ts";
export { type KernelBackend, kernelBackend, setKernelBackend, wasmAvailable } from "./wasm.ts";
