/**
 * System identification of the pendulum's gap parameters (the classical baseline of SGFT's comparison:
 * "fit the gap's physical parameters to real data, retrain in sim"). The pendulum's equation of motion
 * (src/envs/control/pendulum.ts)
 *
 *   ω′ = ω + dt·[3g/(2l) sin ϑ + 3/(m l²)(gain·u − damping·ω) + e_c(ϑ, ω)],
 *   e_c = −c·[(1 + sin²ϑ)ω + ½ tanh(ω/0.1)]   (c = sgftFriction)
 *
 * is linear in (gain, damping, c) for fixed g, m, l: the fit is least squares on the one-step velocity
 * change with those three regressors, which recovers the parameters exactly from noise-free data of the
 * same family. ϑ comes from the observation (cos ϑ, sin ϑ, ω); transitions that hit the speed clip
 * |ω′| = maxSpeed carry no equation and are left out; u is the torque the system received (box and
 * ±maxTorque clips of the recorded action).
 */
import { InputError } from "../common/errors.ts";
import type { EnvParams } from "../envs/control/env.ts";
import { pendulumTorque } from "../envs/control/pendulum.ts";
import { Lu } from "../math/linalg.ts";

/** The parameters the fit can identify. */
export const PENDULUM_GAP_PARAMS = ["gain", "damping", "sgftFriction"] as const;
export type PendulumGapParam = (typeof PENDULUM_GAP_PARAMS)[number];

/** Real transitions in observation space: rows of obs (n × 3), actions (n × 1, env units), nextObs. */
export interface PendulumTransitions {
  size: number;
  obs: Float64Array;
  actions: Float64Array;
  nextObs: Float64Array;
}

const SGFT_V0 = 0.1;

/** The regressor of each parameter at (ϑ, ω, u) with the nominal g, m, l. */
function regressor(name: PendulumGapParam, p: EnvParams, th: number, w: number, u: number): number {
  const k = 3 / (p.m * p.l * p.l);
  if (name === "gain") return k * u;
  if (name === "damping") return -k * w;
  const s = Math.sin(th);
  return -((1 + s * s) * w + 0.5 * Math.tanh(w / SGFT_V0));
}

/**
 * Least-squares estimates of `names` from `data`, the other parameters held at `nominal` (the
 * simulator's). Returns a full parameter record. Throws an InputError when the data cannot identify
 * them (fewer usable transitions than parameters, or a singular design, e.g. u ≡ 0 for the gain).
 */
export function fitPendulumGap(
  data: PendulumTransitions,
  nominal: EnvParams,
  names: readonly PendulumGapParam[],
): Record<string, number> {
  const k = names.length;
  if (k === 0) throw new InputError("system identification needs at least one parameter to fit", "fit");
  const { g, l, dt, maxSpeed, maxTorque } = nominal;
  const fitted = new Set<string>(names);
  const XtX = new Float64Array(k * k);
  const Xty = new Float64Array(k);
  const x = new Float64Array(k);
  let used = 0;
  for (let i = 0; i < data.size; i++) {
    const th = Math.atan2(data.obs[i * 3 + 1], data.obs[i * 3]);
    const w = data.obs[i * 3 + 2];
    const w2 = data.nextObs[i * 3 + 2];
    if (Math.abs(w2) >= maxSpeed) continue;
    // The env clips to its box [−2, 2] and to ±maxTorque; both are the same clip here.
    const u = pendulumTorque(Math.min(maxTorque, 2), data.actions[i]);
    // The velocity change the known (not fitted) terms explain.
    let known = ((3 * g) / (2 * l)) * Math.sin(th);
    for (const name of PENDULUM_GAP_PARAMS)
      if (!fitted.has(name)) known += nominal[name] * regressor(name, nominal, th, w, u);
    const y = (w2 - w) / dt - known;
    for (let p = 0; p < k; p++) x[p] = regressor(names[p], nominal, th, w, u);
    for (let p = 0; p < k; p++) {
      Xty[p] += x[p] * y;
      for (let q = 0; q < k; q++) XtX[p * k + q] += x[p] * x[q];
    }
    used++;
  }
  if (used < k)
    throw new InputError(`system identification: ${used} usable transitions for ${k} parameters`, "fit");
  const unidentified = () =>
    new InputError(`system identification: the data do not identify ${names.join(", ")}`, "fit");
  let est: Float64Array;
  try {
    est = new Lu(XtX, k).solve(Xty);
  } catch {
    throw unidentified();
  }
  if (!est.every(Number.isFinite)) throw unidentified();
  const out: Record<string, number> = { ...nominal };
  names.forEach((n, p) => {
    out[n] = est[p];
  });
  return out;
}

/** Clamp fitted values into the physically meaningful range (gain > 0, damping and c ≥ 0). */
export function clampPendulumGap(params: Record<string, number>): Record<string, number> {
  return {
    ...params,
    gain: Math.max(params.gain, 1e-3),
    damping: Math.max(params.damping, 0),
    sgftFriction: Math.max(params.sgftFriction, 0),
  };
}
