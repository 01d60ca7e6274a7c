/**
 * The θ-parameterised prediction models f̄_θ and costs ℓ_θ, T_θ of the MPC policies (issue 9), as parts
 * for `ParametricOcp` (ocp.ts). Each model gives its step, its Jacobians and the exact second derivatives
 * of λᵀf (in (x, u) and mixed with the physical parameters p): the DDP Hessian and the IFT need them.
 *
 * - Linear: x′ = A x + B u, p = (vec A, vec B) row-major, names "A[i,j]", "B[i,j]".
 * - Pendulum (Gymnasium Pendulum-v1 physics, src/envs/control/pendulum.ts), p = (mass, length, damping):
 *     a = 3g/(2l) sin ϑ + 3/(m l²)(gain·u − b ω),  ω′ = ω + dt a,  ϑ′ = ϑ + dt ω′   (semi-implicit Euler)
 *   g, dt, gain fixed (10, 0.05, 1). The env's speed clip |ω′| ≤ 8 is left out of the model (it is not
 *   differentiable and an MPC solution rarely reaches it); the torque box is the solver's constraint.
 *   Second derivatives by hand (below).
 * - Cart-pole (Gymnasium CartPole-v1 equations with a continuous force, src/envs/control/cartpole.ts),
 *   p = (massCart, massPole, length, cartFriction, poleDamping); gravity, forceMag, gain, dt fixed. The
 *   step reuses the env's `cartpoleStep`; derivatives by second-order forward AD (ad2.ts).
 *
 * Costs (all linear in their weights, ocp.ts `CoordinateCost`):
 * - pendulum stage  ℓ = w_angle·2(1 − cos ϑ) + w_velocity·ω² + w_torque·u²,  terminal T = p_angle·2(1 − cos ϑ)
 *   + p_velocity·ω². With the defaults (1, 0.1, 0.001) ℓ equals the env's cost angle² + 0.1ω² + 0.001u² to
 *   second order at the top, and is smooth and 2π-periodic where the env's normalised angle² has a kink
 *   at ±π.
 * - cart-pole stage ℓ = w_x x² + w_xdot ẋ² + w_angle·2(1 − cos ϑ) + w_angleDot ϑ̇² + w_force u², terminal the
 *   same without the force term.
 */
import { z } from "zod";
import { cartpoleStep } from "../envs/control/cartpole.ts";
import { pendulumAccel } from "../envs/control/pendulum.ts";
import { type Ad2, Ad2Space } from "./ad2.ts";
import {
  CoordinateCost,
  type DynamicsDerivatives,
  type MpcDynamics,
  ParametricOcp,
  TuneSchema,
  WeightParamSchema,
} from "./ocp.ts";

// ---------------------------------------------------------------------------------------------------
// Linear model.

/** x′ = A x + B u with p = (vec A, vec B). λᵀf is bilinear: its only second derivatives are the mixed
 * ones, ∂²(λᵀf)/∂x_j∂A_ij = λ_i and ∂²(λᵀf)/∂u_j∂B_ij = λ_i. */
export class LinearDynamics implements MpcDynamics {
  readonly n: number;
  readonly m: number;
  readonly paramNames: readonly string[];

  constructor(n: number, m: number) {
    this.n = n;
    this.m = m;
    const names: string[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) names.push(`A[${i},${j}]`);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) names.push(`B[${i},${j}]`);
    this.paramNames = names;
  }

  step(p: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void {
    const { n, m } = this;
    const b0 = n * n;
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += p[i * n + j] * x[j];
      for (let j = 0; j < m; j++) v += p[b0 + i * m + j] * u[j];
      out[i] = v;
    }
  }

  derivatives(
    p: ArrayLike<number>,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: ArrayLike<number> | null,
    withParams: boolean,
    out: DynamicsDerivatives,
  ): void {
    const { n, m } = this;
    const b0 = n * n;
    const np = n * n + n * m;
    for (let i = 0; i < n * n; i++) out.fx[i] = p[i];
    for (let i = 0; i < n * m; i++) out.fu[i] = p[b0 + i];
    if (withParams) {
      out.fp.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) out.fp[i * np + i * n + j] = x[j];
        for (let j = 0; j < m; j++) out.fp[i * np + b0 + i * m + j] = u[j];
      }
    }
    if (lambda) {
      out.hxx.fill(0);
      out.hux.fill(0);
      out.huu.fill(0);
      if (withParams) {
        out.hxp.fill(0);
        out.hup.fill(0);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) out.hxp[j * np + i * n + j] = lambda[i];
          for (let j = 0; j < m; j++) out.hup[j * np + b0 + i * m + j] = lambda[i];
        }
      }
    }
  }
}

/** ½ Σ_i q_i x_i² + ½ Σ_j r_j u_j² plus the fixed off-diagonal parts of Q and R. */
export function lqStageCost(
  n: number,
  m: number,
  Q: ArrayLike<number>,
  R: ArrayLike<number>,
): CoordinateCost {
  return new CoordinateCost(
    n,
    m,
    [
      ...Array.from({ length: n }, (_, i) => ({
        name: `Q[${i}]`,
        on: "x" as const,
        index: i,
        kind: "halfSquare" as const,
      })),
      ...Array.from({ length: m }, (_, j) => ({
        name: `R[${j}]`,
        on: "u" as const,
        index: j,
        kind: "halfSquare" as const,
      })),
    ],
    { Q: offDiagonal(Q, n), R: offDiagonal(R, m) },
  );
}

/** ½ Σ_i p_i x_i² plus the fixed off-diagonal part of P. */
export function lqTerminalCost(n: number, P: ArrayLike<number>): CoordinateCost {
  return new CoordinateCost(
    n,
    0,
    Array.from({ length: n }, (_, i) => ({
      name: `P[${i}]`,
      on: "x" as const,
      index: i,
      kind: "halfSquare" as const,
    })),
    { Q: offDiagonal(P, n) },
  );
}

export function diagonal(M: ArrayLike<number>, k: number): Float64Array {
  return Float64Array.from({ length: k }, (_, i) => M[i * k + i]);
}

function offDiagonal(M: ArrayLike<number>, k: number): Float64Array {
  const out = Float64Array.from(M);
  for (let i = 0; i < k; i++) out[i * k + i] = 0;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Pendulum.

export const PENDULUM_MPC_PARAMS = ["mass", "length", "damping"] as const;

export class PendulumDynamics implements MpcDynamics {
  readonly n = 2;
  readonly m = 1;
  readonly paramNames = PENDULUM_MPC_PARAMS;
  readonly g: number;
  readonly dt: number;
  readonly gain: number;
  private readonly rec: Record<string, number>;

  constructor(fixed: { g: number; dt: number; gain: number }) {
    this.g = fixed.g;
    this.dt = fixed.dt;
    this.gain = fixed.gain;
    this.rec = { g: fixed.g, m: 1, l: 1, gain: fixed.gain, damping: 0, sgftFriction: 0 };
  }

  step(p: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void {
    const r = this.rec;
    r.m = p[0];
    r.l = p[1];
    r.damping = p[2];
    // The env's own acceleration (pendulum.ts), without its speed clip.
    const v = x[1] + pendulumAccel(r, x[0], x[1], u[0]) * this.dt;
    out[0] = x[0] + v * this.dt;
    out[1] = v;
  }

  /**
   * With c₁ = 3g/(2l), c₂ = 3/(m l²), β = gain·u − bω, a = c₁ sin ϑ + c₂β:
   *   a_ϑ = c₁ cos ϑ, a_ω = −c₂b, a_u = c₂·gain, a_ϑϑ = −c₁ sin ϑ (all other (x, u) second derivatives 0);
   *   a_m = −c₂β/m, a_l = −c₁ sin ϑ/l − 2c₂β/l, a_b = −c₂ω;
   *   ∂a_ϑ/∂(m, l, b) = (0, −c₁ cos ϑ/l, 0), ∂a_ω/∂(m, l, b) = (c₂b/m, 2c₂b/l, −c₂),
   *   ∂a_u/∂(m, l, b) = (−c₂gain/m, −2c₂gain/l, 0).
   * f = (ϑ + dt ω + dt² a, ω + dt a), so ∂f = (dt², dt)·∂a off the identity part, and λᵀf has second
   * derivatives μ·∂²a with μ = dt²λ₀ + dt λ₁.
   */
  derivatives(
    p: ArrayLike<number>,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: ArrayLike<number> | null,
    withParams: boolean,
    out: DynamicsDerivatives,
  ): void {
    const [mass, l, b] = [p[0], p[1], p[2]];
    const { g, dt, gain } = this;
    const th = x[0];
    const w = x[1];
    const sn = Math.sin(th);
    const cs = Math.cos(th);
    const c1 = (3 * g) / (2 * l);
    const c2 = 3 / (mass * l * l);
    const beta = gain * u[0] - b * w;
    const aTh = c1 * cs;
    const aW = -c2 * b;
    const aU = c2 * gain;
    const dt2 = dt * dt;
    out.fx[0] = 1 + dt2 * aTh;
    out.fx[1] = dt + dt2 * aW;
    out.fx[2] = dt * aTh;
    out.fx[3] = 1 + dt * aW;
    out.fu[0] = dt2 * aU;
    out.fu[1] = dt * aU;
    if (withParams) {
      const ap = [(-c2 * beta) / mass, (-c1 * sn) / l - (2 * c2 * beta) / l, -c2 * w];
      for (let i = 0; i < 3; i++) {
        out.fp[i] = dt2 * ap[i];
        out.fp[3 + i] = dt * ap[i];
      }
    }
    if (lambda) {
      const mu = dt2 * lambda[0] + dt * lambda[1];
      out.hxx[0] = mu * -c1 * sn;
      out.hxx[1] = 0;
      out.hxx[2] = 0;
      out.hxx[3] = 0;
      out.hux[0] = 0;
      out.hux[1] = 0;
      out.huu[0] = 0;
      if (withParams) {
        out.hxp[0] = 0;
        out.hxp[1] = (mu * -c1 * cs) / l;
        out.hxp[2] = 0;
        out.hxp[3] = (mu * c2 * b) / mass;
        out.hxp[4] = (mu * 2 * c2 * b) / l;
        out.hxp[5] = mu * -c2;
        out.hup[0] = (mu * -c2 * gain) / mass;
        out.hup[1] = (mu * -2 * c2 * gain) / l;
        out.hup[2] = 0;
      }
    }
  }
}

export function pendulumStageCost(): CoordinateCost {
  return new CoordinateCost(2, 1, [
    { name: "angle", on: "x", index: 0, kind: "angle" },
    { name: "velocity", on: "x", index: 1, kind: "square" },
    { name: "torque", on: "u", index: 0, kind: "square" },
  ]);
}

export function pendulumTerminalCost(): CoordinateCost {
  return new CoordinateCost(2, 0, [
    { name: "angle", on: "x", index: 0, kind: "angle" },
    { name: "velocity", on: "x", index: 1, kind: "square" },
  ]);
}

const positive = (d: number, what: string) => z.number().positive().default(d).describe(what);
const nonneg = (d: number, what: string) => z.number().nonnegative().default(d).describe(what);

export const PendulumOcpConfigSchema = z.object({
  horizon: z.number().int().positive().default(20).describe("MPC horizon N (steps of dt)"),
  discount: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe("Discount γ of the stage costs (stage k weighted γ^k)"),
  tune: TuneSchema,
  weights: WeightParamSchema,
  model: z
    .object({
      mass: positive(1, "Nominal rod mass m (kg)"),
      length: positive(1, "Nominal rod length l (m)"),
      damping: z.number().default(0).describe("Nominal viscous joint damping b (N·m·s/rad) of the model"),
    })
    .default({ mass: 1, length: 1, damping: 0 })
    .describe("Nominal (initial) model parameters θ_model = (mass, length, damping)"),
  fixed: z
    .object({
      g: positive(10, "Gravity (not tuned)"),
      dt: positive(0.05, "Model time step (not tuned; the env's is 0.05)"),
      gain: positive(1, "Actuator gain (not tuned)"),
    })
    .default({ g: 10, dt: 0.05, gain: 1 })
    .describe("Model constants"),
  cost: z
    .object({
      angle: positive(1, "Weight of 2(1 − cos ϑ) per stage"),
      velocity: positive(0.1, "Weight of ω² per stage"),
      torque: positive(0.001, "Weight of u² per stage"),
    })
    .default({ angle: 1, velocity: 0.1, torque: 0.001 })
    .describe("Nominal stage-cost weights (the env's cost to second order at the top)"),
  terminal: z
    .object({
      angle: nonneg(1, "Weight of 2(1 − cos ϑ_N)"),
      velocity: nonneg(0.1, "Weight of ω_N²"),
    })
    .default({ angle: 1, velocity: 0.1 })
    .describe("Nominal terminal-cost weights"),
  maxTorque: positive(2, "Torque bound |u| ≤ maxTorque (the env's is 2)"),
});
export type PendulumOcpConfig = z.infer<typeof PendulumOcpConfigSchema>;

/** The pendulum MPC problem (θ layout: model (mass, length, damping) | cost | terminal, per `tune`). */
export function pendulumOcp(config: z.input<typeof PendulumOcpConfigSchema> = {}): ParametricOcp {
  const c = PendulumOcpConfigSchema.parse(config);
  return new ParametricOcp({
    dynamics: new PendulumDynamics(c.fixed),
    stageCost: pendulumStageCost(),
    terminalCost: pendulumTerminalCost(),
    horizon: c.horizon,
    discount: c.discount,
    uLow: [-c.maxTorque],
    uHigh: [c.maxTorque],
    tune: c.tune,
    weights: c.weights,
    nominal: {
      model: [c.model.mass, c.model.length, c.model.damping],
      cost: [c.cost.angle, c.cost.velocity, c.cost.torque],
      terminal: [c.terminal.angle, c.terminal.velocity],
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// Cart-pole.

export const CARTPOLE_MPC_PARAMS = ["massCart", "massPole", "length", "cartFriction", "poleDamping"] as const;

export class CartpoleDynamics implements MpcDynamics {
  readonly n = 4;
  readonly m = 1;
  readonly paramNames = CARTPOLE_MPC_PARAMS;
  readonly fixed: { gravity: number; forceMag: number; gain: number; dt: number };
  private readonly rec: Record<string, number>;
  private readonly ad = new Ad2Space(10);

  constructor(fixed: { gravity: number; forceMag: number; gain: number; dt: number }) {
    this.fixed = { ...fixed };
    this.rec = { ...fixed, massCart: 1, massPole: 0.1, length: 0.5, cartFriction: 0, poleDamping: 0 };
  }

  step(p: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void {
    const r = this.rec;
    for (let i = 0; i < 5; i++) r[CARTPOLE_MPC_PARAMS[i]] = p[i];
    cartpoleStep(r, x, u[0], out);
  }

  /** (ẍ, ϑ̈) as second-order jets in z = (x, ẋ, ϑ, ϑ̇, u, m_c, m_p, l, b_c, b_p), cartpole.ts's formulas. */
  private accelerations(p: ArrayLike<number>, x: ArrayLike<number>, u: ArrayLike<number>): [Ad2, Ad2] {
    const A = this.ad;
    A.reset();
    const { gravity, forceMag, gain } = this.fixed;
    const xd = A.variable(1, x[1]);
    const th = A.variable(2, x[2]);
    const thd = A.variable(3, x[3]);
    const uu = A.variable(4, u[0]);
    const mc = A.variable(5, p[0]);
    const mp = A.variable(6, p[1]);
    const l = A.variable(7, p[2]);
    const bc = A.variable(8, p[3]);
    const bp = A.variable(9, p[4]);
    const total = A.add(mc, mp);
    const pml = A.mul(mp, l);
    const force = A.sub(A.scale(uu, forceMag * gain), A.mul(bc, xd));
    const c = A.cos(th);
    const sn = A.sin(th);
    const temp = A.div(A.add(force, A.mul(A.mul(pml, A.mul(thd, thd)), sn)), total);
    const num = A.sub(A.sub(A.scale(sn, gravity), A.mul(c, temp)), A.div(A.mul(bp, thd), pml));
    const shape = A.addConst(A.scale(A.div(A.mul(mp, A.mul(c, c)), total), -1), 4 / 3);
    const thacc = A.div(num, A.mul(l, shape));
    const xacc = A.sub(temp, A.div(A.mul(A.mul(pml, thacc), c), total));
    return [xacc, thacc];
  }

  derivatives(
    p: ArrayLike<number>,
    x: ArrayLike<number>,
    u: ArrayLike<number>,
    lambda: ArrayLike<number> | null,
    withParams: boolean,
    out: DynamicsDerivatives,
  ): void {
    const dt = this.fixed.dt;
    const A = this.ad;
    const [xa, ta] = this.accelerations(p, x, u);
    const xg = (i: number) => A.grad(xa, i);
    const tg = (i: number) => A.grad(ta, i);
    // f = (x + dt ẋ, ẋ + dt ẍ, ϑ + dt ϑ̇, ϑ̇ + dt ϑ̈).
    out.fx.fill(0);
    for (let i = 0; i < 4; i++) out.fx[i * 4 + i] = 1;
    out.fx[1] = dt;
    out.fx[2 * 4 + 3] = dt;
    for (let j = 0; j < 4; j++) {
      out.fx[4 + j] += dt * xg(j);
      out.fx[12 + j] += dt * tg(j);
    }
    out.fu[0] = 0;
    out.fu[1] = dt * xg(4);
    out.fu[2] = 0;
    out.fu[3] = dt * tg(4);
    if (withParams) {
      out.fp.fill(0);
      for (let i = 0; i < 5; i++) {
        out.fp[5 + i] = dt * xg(5 + i);
        out.fp[15 + i] = dt * tg(5 + i);
      }
    }
    if (lambda) {
      // ∇²(λᵀf) = dt (λ₁ ∇²ẍ + λ₃ ∇²ϑ̈).
      const a = dt * lambda[1];
      const b = dt * lambda[3];
      const H = (i: number, j: number) => a * A.hess(xa, i, j) + b * A.hess(ta, i, j);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) out.hxx[i * 4 + j] = H(i, j);
      for (let j = 0; j < 4; j++) out.hux[j] = H(4, j);
      out.huu[0] = H(4, 4);
      if (withParams)
        for (let i = 0; i < 5; i++) {
          for (let j = 0; j < 4; j++) out.hxp[j * 5 + i] = H(j, 5 + i);
          out.hup[i] = H(4, 5 + i);
        }
    }
  }
}

export function cartpoleStageCost(): CoordinateCost {
  return new CoordinateCost(4, 1, [
    { name: "x", on: "x", index: 0, kind: "square" },
    { name: "xDot", on: "x", index: 1, kind: "square" },
    { name: "angle", on: "x", index: 2, kind: "angle" },
    { name: "angleDot", on: "x", index: 3, kind: "square" },
    { name: "force", on: "u", index: 0, kind: "square" },
  ]);
}

export function cartpoleTerminalCost(): CoordinateCost {
  return new CoordinateCost(4, 0, [
    { name: "x", on: "x", index: 0, kind: "square" },
    { name: "xDot", on: "x", index: 1, kind: "square" },
    { name: "angle", on: "x", index: 2, kind: "angle" },
    { name: "angleDot", on: "x", index: 3, kind: "square" },
  ]);
}

export const CartpoleOcpConfigSchema = z.object({
  horizon: z.number().int().positive().default(20).describe("MPC horizon N (steps of dt)"),
  discount: z.number().gt(0).max(1).default(1).describe("Discount γ of the stage costs"),
  tune: TuneSchema,
  weights: WeightParamSchema,
  model: z
    .object({
      massCart: positive(1, "Nominal cart mass (kg)"),
      massPole: positive(0.1, "Nominal pole mass (kg)"),
      length: positive(0.5, "Nominal half pole length (m)"),
      cartFriction: z.number().default(0).describe("Nominal viscous cart friction (N·s/m)"),
      poleDamping: z.number().default(0).describe("Nominal viscous pivot damping (N·m·s/rad)"),
    })
    .default({ massCart: 1, massPole: 0.1, length: 0.5, cartFriction: 0, poleDamping: 0 })
    .describe("Nominal model parameters θ_model"),
  fixed: z
    .object({
      gravity: positive(9.8, "Gravity (not tuned)"),
      forceMag: positive(10, "Force per unit action (not tuned)"),
      gain: positive(1, "Actuator gain (not tuned)"),
      dt: positive(0.02, "Model time step (not tuned)"),
    })
    .default({ gravity: 9.8, forceMag: 10, gain: 1, dt: 0.02 })
    .describe("Model constants"),
  cost: z
    .object({
      x: positive(1, "Weight of x² per stage"),
      xDot: positive(0.1, "Weight of ẋ² per stage"),
      angle: positive(10, "Weight of 2(1 − cos ϑ) per stage"),
      angleDot: positive(0.1, "Weight of ϑ̇² per stage"),
      force: positive(0.01, "Weight of u² per stage (u ∈ [−1, 1])"),
    })
    .default({ x: 1, xDot: 0.1, angle: 10, angleDot: 0.1, force: 0.01 })
    .describe("Nominal stage-cost weights"),
  terminal: z
    .object({
      x: nonneg(10, "Weight of x_N²"),
      xDot: nonneg(1, "Weight of ẋ_N²"),
      angle: nonneg(100, "Weight of 2(1 − cos ϑ_N)"),
      angleDot: nonneg(1, "Weight of ϑ̇_N²"),
    })
    .default({ x: 10, xDot: 1, angle: 100, angleDot: 1 })
    .describe("Nominal terminal-cost weights"),
  maxAction: positive(1, "Action bound |u| ≤ maxAction (the env's is 1)"),
});
export type CartpoleOcpConfig = z.infer<typeof CartpoleOcpConfigSchema>;

/** The cart-pole MPC problem (θ layout: model (massCart, massPole, length, cartFriction, poleDamping) |
 * cost | terminal, per `tune`). */
export function cartpoleOcp(config: z.input<typeof CartpoleOcpConfigSchema> = {}): ParametricOcp {
  const c = CartpoleOcpConfigSchema.parse(config);
  const mo = c.model;
  return new ParametricOcp({
    dynamics: new CartpoleDynamics(c.fixed),
    stageCost: cartpoleStageCost(),
    terminalCost: cartpoleTerminalCost(),
    horizon: c.horizon,
    discount: c.discount,
    uLow: [-c.maxAction],
    uHigh: [c.maxAction],
    tune: c.tune,
    weights: c.weights,
    nominal: {
      model: [mo.massCart, mo.massPole, mo.length, mo.cartFriction, mo.poleDamping],
      cost: [c.cost.x, c.cost.xDot, c.cost.angle, c.cost.angleDot, c.cost.force],
      terminal: [c.terminal.x, c.terminal.xDot, c.terminal.angle, c.terminal.angleDot],
    },
  });
}
