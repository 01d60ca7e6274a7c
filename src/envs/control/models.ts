/**
 * Parametric models of the classic-control envs for the bi-level engine (parametric-model.ts):
 *
 *   s′ ~ N(μ_θ(s, a), Σ),   μ_θ = the env's deterministic step with the physical parameters θ,
 *
 * the model state being the env's *state* vector (pendulum (θ, θ̇), not the observation). μ_θ runs the
 * same code as the env's `step` (action clipped the same way), so it equals the env's next state bit for
 * bit at θ = the env's parameters; ∂μ/∂θ is derived by hand (chain rule, written out below). Σ is
 * diagonal, fixed and small (defaults in `*_NOISE_STD`, override with `noiseStd`): the envs are
 * deterministic, the noise only makes the density proper. No reward depends on θ (zero reward gradient).
 *
 * θ layouts (names in `thetaNames`; the other parameters are fixed at `base`, default the env's):
 * - pendulum: (g, m, l, damping, gain)
 * - cartpole: (massCart, massPole, length, gain, cartFriction, poleDamping)
 * - reacher:  (m1, m2, damping, gain)
 */

import { type DifferentiableMean, GaussianMeanModel, type ParametricModel } from "../parametric-model.ts";
import { type CartPoleEnv, cartpole, cartpoleStep } from "./cartpole.ts";
import { clipAction, type EnvParams, resolveParams } from "./env.ts";
import { type PendulumEnv, pendulum, pendulumAccel, pendulumReward, pendulumTorque } from "./pendulum.ts";
import { type ReacherEnv, reacher, reacherReward, reacherStep } from "./reacher.ts";

export const PENDULUM_THETA = ["g", "m", "l", "damping", "gain"] as const;
export const CARTPOLE_THETA = [
  "massCart",
  "massPole",
  "length",
  "gain",
  "cartFriction",
  "poleDamping",
] as const;
export const REACHER_THETA = ["m1", "m2", "damping", "gain"] as const;

/** Default process-noise standard deviations, per state entry. */
export const PENDULUM_NOISE_STD = [1e-3, 1e-2] as const;
export const CARTPOLE_NOISE_STD = [1e-4, 1e-3, 1e-4, 1e-3] as const;
/** (q₁, q₂, q̇₁, q̇₂, target): the target is constant, its tiny σ only keeps Σ positive definite. */
export const REACHER_NOISE_STD = [1e-4, 1e-4, 1e-3, 1e-3, 1e-6, 1e-6] as const;

export interface ControlModelOptions {
  /** Values of the parameters not in θ (and the nominal θ): default the env's defaults. */
  base?: Readonly<Record<string, number>>;
  /** Process-noise standard deviation per state entry (Σ = diag(σ²)). */
  noiseStd?: ArrayLike<number>;
}

export interface ControlModel extends ParametricModel, DifferentiableMean {
  readonly envId: string;
  readonly thetaNames: readonly string[];
  /** θ at the base parameters. */
  readonly theta0: Float64Array;
  readonly noiseStd: Float64Array;
  /** A full parameter record for the env: base with θ written in. */
  paramsFromTheta(theta: ArrayLike<number>): EnvParams;
  thetaFromParams(params: EnvParams): Float64Array;
}

interface Spec {
  envId: string;
  names: readonly string[];
  stateSize: number;
  actionSize: number;
  defaultStd: readonly number[];
  /** Mean into out, reading parameters from p (θ already written in). */
  mean(p: EnvParams, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void;
  /** Jacobian (every entry) into out. */
  jac(p: EnvParams, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void;
  reward(p: EnvParams, s: ArrayLike<number>, a: ArrayLike<number>): number;
}

function buildModel(spec: Spec, base: EnvParams, noiseStd: ArrayLike<number> | undefined): ControlModel {
  const n = spec.stateSize;
  const nTheta = spec.names.length;
  const std = Float64Array.from(noiseStd ?? spec.defaultStd);
  if (std.length !== n) throw new RangeError(`noiseStd: expected ${n} entries, got ${std.length}`);
  for (const v of std)
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`noiseStd entries must be > 0, got ${v}`);
  const noiseCov = new Float64Array(n * n);
  for (let i = 0; i < n; i++) noiseCov[i * n + i] = std[i] * std[i];
  const scratch: Record<string, number> = { ...base };
  const load = (theta: ArrayLike<number>): EnvParams => {
    for (let k = 0; k < nTheta; k++) scratch[spec.names[k]] = theta[k];
    return scratch;
  };
  const mean = (theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array) =>
    spec.mean(load(theta), s, a, out);
  const meanJacobianTheta = (
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    out: Float64Array,
  ) => spec.jac(load(theta), s, a, out);
  const model = new GaussianMeanModel({
    nTheta,
    obsSize: n,
    actionSize: spec.actionSize,
    noiseCov,
    mean: { mean, meanJacobianTheta },
    reward: {
      reward: (theta, s, a) => spec.reward(load(theta), s, a),
      gradReward() {
        // No reward depends on θ.
      },
    },
  });
  const thetaFromParams = (params: EnvParams) => Float64Array.from(spec.names, (k) => params[k]);
  return Object.assign(model, {
    envId: spec.envId,
    thetaNames: spec.names,
    theta0: thetaFromParams(base),
    noiseStd: std,
    paramsFromTheta(theta: ArrayLike<number>): EnvParams {
      if (theta.length !== nTheta)
        throw new RangeError(`theta: expected ${nTheta} entries, got ${theta.length}`);
      const p: Record<string, number> = { ...base };
      for (let k = 0; k < nTheta; k++) p[spec.names[k]] = theta[k];
      return Object.freeze(p);
    },
    thetaFromParams,
    mean,
    meanJacobianTheta,
  });
}

/**
 * Pendulum, θ = (g, m, l, damping, gain). With B = gain·u − damping·θ̇ and v = θ̇ + dt·θ̈ before the speed
 * clip: ∂θ̈/∂g = 3 sin θ/(2l), ∂θ̈/∂m = −3B/(m²l²), ∂θ̈/∂l = −3g sin θ/(2l²) − 6B/(m l³),
 * ∂θ̈/∂damping = −3θ̇/(m l²), ∂θ̈/∂gain = 3u/(m l²); ∂θ̇′/∂θ = dt ∂θ̈/∂θ (0 where |v| > maxSpeed:
 * the clip is active) and ∂θ′/∂θ = dt ∂θ̇′/∂θ. (The SGFT friction term, if base sets it, has no θ.)
 */
export function pendulumModel(options: ControlModelOptions = {}): ControlModel {
  const env: PendulumEnv = pendulum();
  const base = resolveParams(env, options.base);
  const u = new Float64Array(1);
  const torque = (p: EnvParams, a: ArrayLike<number>) =>
    pendulumTorque(p.maxTorque, clipAction(env.actionSpace, a, u)[0]);
  return buildModel(
    {
      envId: env.id,
      names: PENDULUM_THETA,
      stateSize: 2,
      actionSize: 1,
      defaultStd: PENDULUM_NOISE_STD,
      mean(p, s, a, out) {
        const uc = torque(p, a);
        const vmax = p.maxSpeed;
        let v = s[1] + pendulumAccel(p, s[0], s[1], uc) * p.dt;
        v = v > vmax ? vmax : v < -vmax ? -vmax : v;
        out[0] = s[0] + v * p.dt;
        out[1] = v;
      },
      jac(p, s, a, out) {
        out.fill(0);
        const uc = torque(p, a);
        const { g, m, l, dt } = p;
        const v = s[1] + pendulumAccel(p, s[0], s[1], uc) * dt;
        if (v > p.maxSpeed || v < -p.maxSpeed) return;
        const sn = Math.sin(s[0]);
        const B = p.gain * uc - p.damping * s[1];
        const ml2 = m * l * l;
        const dAcc = [
          (3 * sn) / (2 * l),
          (-3 * B) / (m * ml2),
          (-3 * g * sn) / (2 * l * l) - (6 * B) / (ml2 * l),
          (-3 * s[1]) / ml2,
          (3 * uc) / ml2,
        ];
        for (let k = 0; k < 5; k++) {
          out[5 + k] = dt * dAcc[k];
          out[k] = dt * out[5 + k];
        }
      },
      reward: (p, s, a) => pendulumReward(s[0], s[1], torque(p, a)),
    },
    base,
    options.noiseStd,
  );
}

/**
 * Cart-pole, θ = (massCart, massPole, length, gain, cartFriction, poleDamping). Forward-mode chain rule
 * through cartpole.ts's formulas, one direction per θ entry (d· the derivative along it):
 *   dF = forceMag·u·dgain − ẋ·dcartFriction,  dM = dm_c + dm_p,  d(m_p l) = l dm_p + m_p dl,
 *   dtemp = (dF + d(m_p l) ϑ̇² sin ϑ − temp dM)/M,
 *   dden = dl (4/3 − m_p cos²ϑ/M) − l cos²ϑ (dm_p M − m_p dM)/M²,
 *   dnum = −cos ϑ dtemp − ϑ̇ dpoleDamping/(m_p l) + poleDamping ϑ̇ d(m_p l)/(m_p l)²,
 *   dϑ̈ = (dnum − ϑ̈ dden)/den,  dẍ = dtemp − cos ϑ (d(m_p l) ϑ̈ + m_p l dϑ̈ − m_p l ϑ̈ dM/M)/M;
 * then dẋ′ = dt dẍ, dϑ̇′ = dt dϑ̈, dx′ = dϑ′ = 0.
 */
export function cartpoleModel(options: ControlModelOptions = {}): ControlModel {
  const env: CartPoleEnv = cartpole();
  const base = resolveParams(env, options.base);
  const u = new Float64Array(1);
  const nT = CARTPOLE_THETA.length;
  return buildModel(
    {
      envId: env.id,
      names: CARTPOLE_THETA,
      stateSize: 4,
      actionSize: 1,
      defaultStd: CARTPOLE_NOISE_STD,
      mean(p, s, a, out) {
        cartpoleStep(p, s, clipAction(env.actionSpace, a, u)[0], out);
      },
      jac(p, s, a, out) {
        out.fill(0);
        const uc = clipAction(env.actionSpace, a, u)[0];
        const xd = s[1];
        const th = s[2];
        const thd = s[3];
        const mp = p.massPole;
        const l = p.length;
        const bp = p.poleDamping;
        const M = p.massCart + mp;
        const pml = mp * l;
        const F = p.forceMag * p.gain * uc - p.cartFriction * xd;
        const c = Math.cos(th);
        const sn = Math.sin(th);
        const temp = (F + pml * thd * thd * sn) / M;
        const shape = 4 / 3 - (mp * c * c) / M;
        const den = l * shape;
        const num = p.gravity * sn - c * temp - (bp * thd) / pml;
        const alpha = num / den;
        for (let k = 0; k < nT; k++) {
          const dmc = k === 0 ? 1 : 0;
          const dmp = k === 1 ? 1 : 0;
          const dl = k === 2 ? 1 : 0;
          const dgain = k === 3 ? 1 : 0;
          const dbc = k === 4 ? 1 : 0;
          const dbp = k === 5 ? 1 : 0;
          const dF = p.forceMag * uc * dgain - xd * dbc;
          const dM = dmc + dmp;
          const dpml = l * dmp + mp * dl;
          const dtemp = (dF + dpml * thd * thd * sn - temp * dM) / M;
          const dden = dl * shape - (l * c * c * (dmp * M - mp * dM)) / (M * M);
          const dnum = -c * dtemp - (thd * dbp) / pml + (bp * thd * dpml) / (pml * pml);
          const dalpha = (dnum - alpha * dden) / den;
          const dxacc = dtemp - (c * (dpml * alpha + pml * dalpha - (pml * alpha * dM) / M)) / M;
          out[1 * nT + k] = p.dt * dxacc;
          out[3 * nT + k] = p.dt * dalpha;
        }
      },
      reward: () => 1,
    },
    base,
    options.noiseStd,
  );
}

/**
 * Reacher, θ = (m1, m2, damping, gain). The step solves A q̇′ = b with A = M(q) + dt·d·I and
 * b = M(q) q̇ + dt (maxTorque·gain·u − C(q, q̇) q̇) (reacher.ts). M is linear in the masses,
 * M = m₁ M⁽¹⁾ + m₂ M⁽²⁾ + …, with M⁽¹⁾ = diag(l₁²/3, 0); M⁽²⁾₁₁ = l₂²/3 + l₁² + l₁l₂ cos q₂,
 * M⁽²⁾₁₂ = l₂²/3 + ½ l₁l₂ cos q₂, M⁽²⁾₂₂ = l₂²/3; and C q̇ = m₂ (C q̇)⁽²⁾. So
 *   dq̇′ = A⁻¹ (db − dA q̇′),  with (dA, db) = (M⁽¹⁾, M⁽¹⁾q̇) for m₁, (M⁽²⁾, M⁽²⁾q̇ − dt (C q̇)⁽²⁾) for m₂,
 *   (dt·I, 0) for damping, (0, dt·maxTorque·u) for gain;  dq′ = dt dq̇′, d target = 0.
 */
export function reacherModel(options: ControlModelOptions = {}): ControlModel {
  const env: ReacherEnv = reacher();
  const base = resolveParams(env, options.base);
  const u = new Float64Array(2);
  const mm = new Float64Array(3);
  const next = new Float64Array(6);
  const nT = REACHER_THETA.length;
  return buildModel(
    {
      envId: env.id,
      names: REACHER_THETA,
      stateSize: 6,
      actionSize: 2,
      defaultStd: REACHER_NOISE_STD,
      mean(p, s, a, out) {
        clipAction(env.actionSpace, a, u);
        reacherStep(p, s, u[0], u[1], mm, out);
      },
      jac(p, s, a, out) {
        out.fill(0);
        clipAction(env.actionSpace, a, u);
        reacherStep(p, s, u[0], u[1], mm, next);
        const w1 = next[2];
        const w2 = next[3];
        const { l1, l2, dt } = p;
        const v1 = s[2];
        const v2 = s[3];
        const dd = dt * p.damping;
        const a11 = mm[0] + dd;
        const a12 = mm[1];
        const a22 = mm[2] + dd;
        const det = a11 * a22 - a12 * a12;
        const c2 = Math.cos(s[1]);
        const h2 = 0.5 * l1 * l2 * Math.sin(s[1]);
        // Unit-mass pieces: (M11, M12, M22) and the per-m₂ Coriolis force −(C q̇)⁽²⁾.
        const M1 = [(l1 * l1) / 3, 0, 0];
        const M2 = [
          (l2 * l2) / 3 + l1 * l1 + l1 * l2 * c2,
          (l2 * l2) / 3 + 0.5 * l1 * l2 * c2,
          (l2 * l2) / 3,
        ];
        const f2a = h2 * (2 * v1 * v2 + v2 * v2);
        const f2b = -h2 * v1 * v1;
        const k = p.maxTorque;
        for (let j = 0; j < nT; j++) {
          let dA11 = 0;
          let dA12 = 0;
          let dA22 = 0;
          let db1 = 0;
          let db2 = 0;
          if (j === 0 || j === 1) {
            const D = j === 0 ? M1 : M2;
            dA11 = D[0];
            dA12 = D[1];
            dA22 = D[2];
            db1 = D[0] * v1 + D[1] * v2;
            db2 = D[1] * v1 + D[2] * v2;
            if (j === 1) {
              db1 += dt * f2a;
              db2 += dt * f2b;
            }
          } else if (j === 2) {
            dA11 = dt;
            dA22 = dt;
          } else {
            db1 = dt * k * u[0];
            db2 = dt * k * u[1];
          }
          const r1 = db1 - (dA11 * w1 + dA12 * w2);
          const r2 = db2 - (dA12 * w1 + dA22 * w2);
          const dw1 = (a22 * r1 - a12 * r2) / det;
          const dw2 = (a11 * r2 - a12 * r1) / det;
          out[0 * nT + j] = dt * dw1;
          out[1 * nT + j] = dt * dw2;
          out[2 * nT + j] = dw1;
          out[3 * nT + j] = dw2;
        }
      },
      reward: (p, s, a) => {
        clipAction(env.actionSpace, a, u);
        return reacherReward(p, s, u[0], u[1]);
      },
    },
    base,
    options.noiseStd,
  );
}

/** The parametric model of a task by name. */
export const CONTROL_MODELS: Readonly<Record<string, (options?: ControlModelOptions) => ControlModel>> =
  Object.freeze({ pendulum: pendulumModel, cartpole: cartpoleModel, reacher: reacherModel });
