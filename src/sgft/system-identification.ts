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
import type { ControlModel } from "../envs/control/models.ts";
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

/**
 * System identification for a task whose observation is its state (the cart-pole): Levenberg–Marquardt
 * on Σ_i ‖(s′_i − μ_θ(s_i, a_i)) / σ‖², the Gaussian log-likelihood of the task's parametric model
 * (src/envs/control/models.ts: μ_θ runs the env's own step, ∂μ/∂θ exact), over the parameters `names`;
 * the others stay at the model's base. Starts from the model's nominal θ; noise-free data of the same
 * family are fitted to machine precision.
 */
export function fitModelParams(
  model: ControlModel,
  data: PendulumTransitions,
  names: readonly string[],
  iterations = 50,
): Record<string, number> {
  const idx = names.map((n) => {
    const k = model.thetaNames.indexOf(n);
    if (k < 0)
      throw new InputError(
        `fit: ${model.envId} has no identifiable parameter '${n}'; it has ${model.thetaNames.join(", ")}`,
        "fit",
      );
    return k;
  });
  const dS = model.obsSize;
  const nT = model.nTheta;
  const k = idx.length;
  const theta = Float64Array.from(model.theta0);
  const mu = new Float64Array(dS);
  const jac = new Float64Array(dS * nT);
  const cost = (th: Float64Array): number => {
    let c = 0;
    for (let i = 0; i < data.size; i++) {
      model.mean(
        th,
        data.obs.subarray(i * dS, (i + 1) * dS),
        data.actions.subarray(i, i + model.actionSize),
        mu,
      );
      for (let j = 0; j < dS; j++) c += ((data.nextObs[i * dS + j] - mu[j]) / model.noiseStd[j]) ** 2;
    }
    return c;
  };
  let lambda = 1e-3;
  let c0 = cost(theta);
  for (let it = 0; it < iterations && c0 > 0; it++) {
    const JtJ = new Float64Array(k * k);
    const Jtr = new Float64Array(k);
    for (let i = 0; i < data.size; i++) {
      const s = data.obs.subarray(i * dS, (i + 1) * dS);
      const a = data.actions.subarray(i * model.actionSize, (i + 1) * model.actionSize);
      model.mean(theta, s, a, mu);
      model.meanJacobianTheta(theta, s, a, jac);
      for (let j = 0; j < dS; j++) {
        const w = 1 / model.noiseStd[j] ** 2;
        const r = data.nextObs[i * dS + j] - mu[j];
        for (let p = 0; p < k; p++) {
          const jp = jac[j * nT + idx[p]];
          Jtr[p] += w * jp * r;
          for (let q = 0; q < k; q++) JtJ[p * k + q] += w * jp * jac[j * nT + idx[q]];
        }
      }
    }
    // Damped Gauss–Newton step; accept if the cost falls, otherwise damp more.
    let accepted = false;
    for (let tries = 0; tries < 20 && !accepted; tries++) {
      const A = JtJ.slice();
      for (let p = 0; p < k; p++) A[p * k + p] *= 1 + lambda;
      let step: Float64Array;
      try {
        step = new Lu(A, k).solve(Jtr);
      } catch {
        throw new InputError(`system identification: the data do not identify ${names.join(", ")}`, "fit");
      }
      const trial = theta.slice();
      idx.forEach((t, p) => {
        trial[t] += step[p];
      });
      const c1 = cost(trial);
      if (c1 < c0) {
        theta.set(trial);
        c0 = c1;
        lambda = Math.max(lambda / 10, 1e-12);
        accepted = true;
      } else lambda *= 10;
    }
    if (!accepted) break;
  }
  return { ...model.paramsFromTheta(theta) };
}
