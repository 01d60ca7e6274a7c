/**
 * Matrix-free Krylov solvers (Float64) for the implicit-function-theorem step of the bi-level method,
 * dφ/dθ = −J_φ⁻¹ J_θ, when J_φ is only available through products v ↦ J_φ v (or vᵀ J_φ).
 *
 * The outer gradient needs a single solve: with g = ∂J_real/∂φ,
 *   (dφ/dθ)ᵀ g = −J_θᵀ u,  J_φᵀ u = g,
 * so pass the vector-Jacobian product as the operator (or the JVP when J_φ is symmetric).
 *
 * - `gmres`: any nonsingular operator (J_φ is not symmetric in general); the default.
 * - `bicgstab`: short recurrences (memory: 7 vectors, 9 preconditioned), two products per iteration; can
 *   break down or stall where GMRES does not.
 * - `conjugateGradient`: symmetric positive-definite only. Near a maximum J_φ is negative definite:
 *   solve (−J_φ) x = −b, which has the same x.
 * - `neumannSolve`: truncated Neumann series, the cheap first-order family, to measure against the above.
 *
 * `damping` λ ≥ 0 solves (A + λI) x = b instead: Tikhonov regularisation for sampled J_φ estimates that are
 * ill-conditioned or indefinite (for a negative-definite J_φ damp the negated system, −J_φ + λI).
 *
 * Operators write A·x into `out` (all of it; `out` is never pre-zeroed) and must not keep either array.
 * Every solver allocates its work vectors once, before iterating.
 */
import { axpyAt, dotAt } from "./linalg.ts";

/** y = A x, written into `out` (length n). */
export type LinearOperator = (x: Float64Array, out: Float64Array) => void;

/** Why a solver stopped. Only "converged" has `converged: true`. */
export type KrylovStopReason =
  /** ‖b − (A + λI)x‖ ≤ tol·‖b‖, checked on the true residual. */
  | "converged"
  /** The iteration budget ran out. */
  | "maxIterations"
  /** A full restart cycle (or a residual replacement) did not reduce the true residual: A is singular
   * on the Krylov space, or GMRES(m) stalls on an indefinite operator. */
  | "stagnation"
  /** A division by (near) zero in the recurrence: BiCGSTAB's ρ, (r̂, Ap) or ω, or a GMRES invariant
   * subspace on which A is singular. */
  | "breakdown"
  /** CG met pᵀAp ≤ 0 (or the preconditioner rᵀM⁻¹r ≤ 0): the operator is not positive definite. */
  | "indefinite"
  /** The operator or preconditioner returned NaN/±∞; x is an earlier iterate with a finite residual. */
  | "nonFinite"
  /** `onIteration` returned false. */
  | "stopped";

/** Options shared by every Krylov solver. */
export interface KrylovOptions {
  /** Relative residual target: stop when ‖b − (A + λI)x‖ ≤ tol·‖b‖. Default 1e-10. */
  tol?: number;
  /** Cap on iterations (GMRES and CG: one operator product each; BiCGSTAB: two).
   * Default max(100, 2n). */
  maxIterations?: number;
  /** Initial guess, length n; not modified. Default 0 (which saves one operator product). */
  x0?: ArrayLike<number>;
  /** λ ≥ 0: solve (A + λI) x = b. Default 0. */
  damping?: number;
  /** Called after every iteration with the solver's running relative residual (GMRES's least-squares
   * estimate, BiCGSTAB's and CG's recursive residual). Return `false` to stop (reason "stopped"). */
  onIteration?: (iteration: number, relativeResidual: number) => unknown;
}

export interface GmresOptions extends KrylovOptions {
  /** Krylov dimension m of GMRES(m); memory is about (m + 3)·n doubles. Capped at n. Default 50. */
  restart?: number;
  /** Second modified Gram–Schmidt pass: "auto" (default) when the first pass cancelled more than
   * 1 − 1/√2 of ‖A v‖ (Kahan's criterion), "always", or "never". */
  reorthogonalize?: "never" | "auto" | "always";
  /** Right preconditioner z ↦ M⁻¹ z: GMRES runs on A M⁻¹, so the residual it minimises is the true one. */
  preconditioner?: LinearOperator;
}

export interface BicgstabOptions extends KrylovOptions {
  /** Right preconditioner z ↦ M⁻¹ z. */
  preconditioner?: LinearOperator;
  /** On breakdown: "restart" (default) from the current x with a fresh shadow residual, failing only
   * if the residual made no progress since the previous restart; or "fail" at once. */
  onBreakdown?: "restart" | "fail";
}

export interface CgOptions extends KrylovOptions {
  /** Symmetric positive-definite preconditioner z ↦ M⁻¹ z. */
  preconditioner?: LinearOperator;
}

export interface KrylovResult {
  /** The solution. On a non-converged exit: GMRES's last cycle end (or the start of a final cycle that
   * made the residual worse); BiCGSTAB's and CG's iterate with the smallest residual seen. */
  x: Float64Array;
  /** Iterations done (see `maxIterations` for what one costs). */
  iterations: number;
  /** Calls of the user's operator, including the true-residual checks. */
  operatorApplications: number;
  /** True residual ‖b − (A + λI)x‖ of the returned x (recomputed, not the recursive estimate),
   * except on "nonFinite", where it is the last finite one. */
  residualNorm: number;
  /** residualNorm / ‖b‖ (0 when b = 0). */
  relativeResidual: number;
  converged: boolean;
  reason: KrylovStopReason;
  /** Which quantity broke down, when it did. */
  detail?: string;
  /** Relative residual before the first iteration, then after each iteration: history[k] after k
   * iterations (the solver's running estimate, as passed to `onIteration`). */
  history: number[];
}

/** cos-angle below which an inner product is zero to working precision: a breakdown, not just a small
 * value. (Larger thresholds, e.g. 1e-12, declared breakdowns on hard but solvable problems.) */
const BREAKDOWN = 4 * Number.EPSILON;
/** Relative size below which a new Arnoldi direction is rounding noise: the Krylov space is invariant. */
const INVARIANT = 64 * Number.EPSILON;
/** A restart that improves the residual by less than this fraction made no progress. */
const PROGRESS = 1e-6;
/** GMRES ends a cycle once the rounding floor of its correction exceeds this fraction of the residual
 * estimate (or of the target, or of 1e-8 × the cycle's starting residual, so an exact 0 passes). */
const FLOOR_MARGIN = 0.1;

/** A·x + λx, counting calls. */
class DampedOperator {
  calls = 0;
  constructor(
    private readonly op: LinearOperator,
    private readonly lambda: number,
    private readonly n: number,
  ) {}

  apply(x: Float64Array, out: Float64Array): void {
    this.calls++;
    this.op(x, out);
    if (this.lambda !== 0) axpyAt(this.lambda, x, 0, out, 0, this.n);
  }

  /** r = b − A x, returns ‖r‖. With x = 0 known, no product is needed. */
  residual(b: Float64Array, x: Float64Array, r: Float64Array, xIsZero: boolean): number {
    const n = this.n;
    if (xIsZero) r.set(b);
    else {
      this.apply(x, r);
      for (let i = 0; i < n; i++) r[i] = b[i] - r[i];
    }
    return Math.sqrt(dotAt(r, 0, r, n));
  }
}

/** Growable Float64 log: amortised, so iterations do not allocate per step. */
class History {
  private buf = new Float64Array(64);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Float64Array(2 * this.buf.length);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = v;
  }

  toArray(): number[] {
    return Array.from(this.buf.subarray(0, this.length));
  }
}

interface Setup {
  n: number;
  A: DampedOperator;
  b: Float64Array;
  x: Float64Array;
  xIsZero: boolean;
  bnorm: number;
  /** Absolute residual target tol·‖b‖. */
  target: number;
  maxIterations: number;
  history: History;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be finite and ≥ 0, got ${v}`);
  return v;
}

function prepare(op: LinearOperator, bIn: ArrayLike<number>, opts: KrylovOptions): Setup {
  const n = bIn.length;
  const b = bIn instanceof Float64Array ? bIn : Float64Array.from(bIn);
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(b[i])) throw new RangeError(`right-hand side has a non-finite entry at ${i}`);
  const tol = nonNegative("tol", opts.tol ?? 1e-10);
  const damping = nonNegative("damping", opts.damping ?? 0);
  const maxIterations = opts.maxIterations ?? Math.max(100, 2 * n);
  if (!Number.isInteger(maxIterations) || maxIterations < 0)
    throw new RangeError(`maxIterations must be an integer ≥ 0, got ${maxIterations}`);
  const x = new Float64Array(n);
  let xIsZero = true;
  if (opts.x0 !== undefined) {
    if (opts.x0.length !== n) throw new RangeError(`x0 has length ${opts.x0.length}, expected ${n}`);
    for (let i = 0; i < n; i++) {
      x[i] = opts.x0[i];
      if (!Number.isFinite(x[i])) throw new RangeError(`x0 has a non-finite entry at ${i}`);
      if (x[i] !== 0) xIsZero = false;
    }
  }
  const bnorm = Math.sqrt(dotAt(b, 0, b, n));
  return {
    n,
    A: new DampedOperator(op, damping, n),
    b,
    x,
    xIsZero,
    bnorm,
    target: tol * bnorm,
    maxIterations,
    history: new History(),
  };
}

/** b = 0: x = 0 solves any system exactly, whatever x0 was. */
function zeroRhs(s: Setup): KrylovResult {
  return {
    x: new Float64Array(s.n),
    iterations: 0,
    operatorApplications: 0,
    residualNorm: 0,
    relativeResidual: 0,
    converged: true,
    reason: "converged",
    history: [0],
  };
}

function finish(
  s: Setup,
  iterations: number,
  residualNorm: number,
  reason: KrylovStopReason,
  detail?: string,
): KrylovResult {
  const result: KrylovResult = {
    x: s.x,
    iterations,
    operatorApplications: s.A.calls,
    residualNorm,
    relativeResidual: residualNorm / s.bnorm,
    converged: reason === "converged",
    reason,
    history: s.history.toArray(),
  };
  if (detail !== undefined) result.detail = detail;
  return result;
}

/** The iterate with the smallest residual so far: BiCGSTAB's and CG's residuals are not monotone, so
 * when they give up this is returned rather than the last iterate. */
class BestIterate {
  readonly x: Float64Array;
  constructor(
    x: Float64Array,
    public norm: number,
  ) {
    this.x = x.slice();
  }

  note(x: Float64Array, norm: number): void {
    if (norm < this.norm) {
      this.norm = norm;
      this.x.set(x);
    }
  }
}

/** Non-converged exit of BiCGSTAB/CG: the best iterate, with its residual re-measured (one product)
 * unless the operator has already failed. `r` is scratch. */
function giveUp(
  s: Setup,
  best: BestIterate,
  r: Float64Array,
  iterations: number,
  currentNorm: number,
  reason: KrylovStopReason,
  detail?: string,
): KrylovResult {
  let norm = currentNorm;
  if (!(currentNorm <= best.norm)) {
    s.x.set(best.x);
    norm = reason === "nonFinite" ? best.norm : s.A.residual(s.b, s.x, r, false);
  }
  return finish(s, iterations, norm, reason, detail);
}

/**
 * Restarted GMRES(m) with modified Gram–Schmidt Arnoldi and Givens rotations: minimises ‖b − A x‖
 * over x0 + M⁻¹ K_k(A M⁻¹, r0), so within a cycle the residual never increases. Each cycle ends with a
 * true residual b − A x (one extra product), which is what convergence is judged on.
 * Besides the products, iteration j costs O(j·n) for Gram–Schmidt and O(j²) for the coefficient check.
 */
export function gmres(op: LinearOperator, b: ArrayLike<number>, opts: GmresOptions = {}): KrylovResult {
  const s = prepare(op, b, opts);
  if (s.bnorm === 0) return zeroRhs(s);
  const { n, A, x, target, maxIterations, history } = s;
  const restart = opts.restart ?? 50;
  if (!Number.isInteger(restart) || restart < 1)
    throw new RangeError(`restart must be an integer ≥ 1, got ${restart}`);
  const m = Math.min(restart, n);
  const reorth = opts.reorthogonalize ?? "auto";
  const M = opts.preconditioner;
  const ld = m + 1; // H is column-major, column j at j·(m + 1); rotated in place into R
  const V = new Float64Array(m * n); // v_m is never needed: the cycle ends there
  const H = new Float64Array(ld * m);
  const cs = new Float64Array(m);
  const sn = new Float64Array(m);
  const g = new Float64Array(m + 1);
  const y = new Float64Array(m);
  const w = new Float64Array(n);
  const z = M ? new Float64Array(n) : w;
  const update = new Float64Array(n);
  // Views made once: subarray() allocates.
  const rows = Array.from({ length: m }, (_, j) => V.subarray(j * n, (j + 1) * n));

  let iterations = 0;
  let beta = A.residual(s.b, x, w, s.xIsZero);
  history.push(beta / s.bnorm);
  if (!Number.isFinite(beta)) return finish(s, 0, beta, "nonFinite");
  let previousBeta = Number.POSITIVE_INFINITY;
  let normA = 0; // max ‖A v_j‖ seen: a lower bound on ‖A M⁻¹‖, for the rounding floor
  let breakdown: string | undefined;
  for (;;) {
    if (beta <= target) return finish(s, iterations, beta, "converged");
    if (iterations >= maxIterations) return finish(s, iterations, beta, "maxIterations");
    if (beta > previousBeta * (1 - PROGRESS)) {
      if (beta > previousBeta) {
        // The cycle made things worse (rounding on a singular system): keep its starting point.
        for (let i = 0; i < n; i++) x[i] -= update[i];
        beta = previousBeta;
      }
      return finish(s, iterations, beta, breakdown ? "breakdown" : "stagnation", breakdown);
    }
    previousBeta = beta;
    breakdown = undefined;
    const inv = 1 / beta;
    for (let i = 0; i < n; i++) V[i] = w[i] * inv;
    g.fill(0);
    g[0] = beta;
    let k = 0; // columns of this cycle's least-squares problem
    let stopped = false;
    while (k < m && iterations < maxIterations) {
      const j = k;
      if (M) {
        M(rows[j], z);
        A.apply(z, w);
      } else A.apply(rows[j], w);
      iterations++;
      const hc = j * ld;
      const w0 = Math.sqrt(dotAt(w, 0, w, n));
      for (let i = 0; i <= j; i++) {
        const h = dotAt(V, i * n, w, n);
        H[hc + i] = h;
        axpyAt(-h, V, i * n, w, 0, n);
      }
      let hNext = Math.sqrt(dotAt(w, 0, w, n));
      if (reorth === "always" || (reorth === "auto" && hNext < Math.SQRT1_2 * w0)) {
        for (let i = 0; i <= j; i++) {
          const h = dotAt(V, i * n, w, n);
          H[hc + i] += h;
          axpyAt(-h, V, i * n, w, 0, n);
        }
        hNext = Math.sqrt(dotAt(w, 0, w, n));
      }
      // Abandon the cycle, keeping x from its start: its residual (beta) is the last finite one.
      if (!Number.isFinite(hNext) || !Number.isFinite(w0)) return finish(s, iterations, beta, "nonFinite");
      normA = Math.max(normA, w0);
      for (let i = 0; i < j; i++) {
        const a = H[hc + i];
        const c = H[hc + i + 1];
        H[hc + i] = cs[i] * a + sn[i] * c;
        H[hc + i + 1] = -sn[i] * a + cs[i] * c;
      }
      const invariant = hNext <= INVARIANT * w0;
      const diag = H[hc + j];
      if (invariant && Math.abs(diag) <= INVARIANT * w0) {
        // A v_j adds no new direction and nothing to R: column j is dropped, the residual stays.
        history.push(Math.abs(g[j]) / s.bnorm);
        breakdown = "GMRES: A is singular on an invariant Krylov subspace";
        break;
      }
      const d = Math.hypot(diag, hNext);
      cs[j] = diag / d;
      sn[j] = hNext / d;
      H[hc + j] = d;
      H[hc + j + 1] = 0;
      const gj = g[j];
      g[j + 1] = -sn[j] * gj;
      g[j] = cs[j] * gj;
      // The least-squares estimate is only meaningful above the rounding floor ε‖A‖‖y‖ of the
      // correction it implies. On a (nearly) singular, inconsistent system ‖y‖ explodes while the
      // estimate falls below the true residual: drop the column and end the cycle instead.
      backSubstitute(H, ld, g, y, j + 1);
      const floor = Number.EPSILON * normA * Math.sqrt(dotAt(y, 0, y, j + 1));
      if (floor > FLOOR_MARGIN * Math.max(Math.abs(g[j + 1]), target, 1e-8 * beta)) {
        g[j] = gj;
        g[j + 1] = 0;
        history.push(Math.abs(gj) / s.bnorm);
        breakdown =
          "GMRES: least-squares problem at the rounding floor (A nearly singular on the Krylov space)";
        break;
      }
      k++;
      const estimate = Math.abs(g[j + 1]) / s.bnorm;
      history.push(estimate);
      if (opts.onIteration && opts.onIteration(iterations, estimate) === false) {
        stopped = true;
        break;
      }
      if (estimate * s.bnorm <= target) break;
      if (invariant) {
        breakdown = "GMRES: A is singular on an invariant Krylov subspace";
        break;
      }
      if (k < m) {
        const inv = 1 / hNext;
        const next = (j + 1) * n;
        for (let i = 0; i < n; i++) V[next + i] = w[i] * inv;
      }
    }
    if (k > 0) {
      // x += M⁻¹ V y with R y = g.
      backSubstitute(H, ld, g, y, k);
      w.fill(0);
      for (let l = 0; l < k; l++) axpyAt(y[l], V, l * n, w, 0, n);
      if (M) M(w, update);
      else update.set(w);
      if (!Number.isFinite(dotAt(update, 0, update, n))) return finish(s, iterations, beta, "nonFinite");
      for (let i = 0; i < n; i++) x[i] += update[i];
    } else update.fill(0);
    const cycleStart = beta;
    beta = A.residual(s.b, x, w, false);
    if (!Number.isFinite(beta)) {
      for (let i = 0; i < n; i++) x[i] -= update[i]; // back to the last iterate with a finite residual
      return finish(s, iterations, cycleStart, "nonFinite");
    }
    if (stopped) return finish(s, iterations, beta, "stopped");
  }
}

/** Solve R y = g for the leading k×k block of the rotated Hessenberg matrix (column-major, stride ld). */
function backSubstitute(H: Float64Array, ld: number, g: Float64Array, y: Float64Array, k: number): void {
  for (let i = k - 1; i >= 0; i--) {
    let acc = g[i];
    for (let l = i + 1; l < k; l++) acc -= H[l * ld + i] * y[l];
    y[i] = acc / H[i * ld + i];
  }
}

/**
 * BiCGSTAB (van der Vorst 1992) with optional right preconditioning. Convergence of the recursive
 * residual is confirmed on the true residual; if they disagree (drift), it restarts from the true one.
 * A breakdown (ρ, (r̂, Ap) or ω zero to working precision) restarts from the true residual with a new
 * shadow vector r̂ = r; a restart that gains nothing ends the solve.
 */
export function bicgstab(op: LinearOperator, b: ArrayLike<number>, opts: BicgstabOptions = {}): KrylovResult {
  const s = prepare(op, b, opts);
  if (s.bnorm === 0) return zeroRhs(s);
  const { n, A, x, target, maxIterations, history } = s;
  const M = opts.preconditioner;
  const failOnBreakdown = opts.onBreakdown === "fail";
  const r = new Float64Array(n);
  const rHat = new Float64Array(n);
  const p = new Float64Array(n);
  const v = new Float64Array(n);
  const t = new Float64Array(n);
  const pHat = M ? new Float64Array(n) : p;
  const sHat = M ? new Float64Array(n) : r; // s is kept in r

  let iterations = 0;
  let rNorm = A.residual(s.b, x, r, s.xIsZero);
  history.push(rNorm / s.bnorm);
  if (!Number.isFinite(rNorm)) return finish(s, 0, rNorm, "nonFinite");
  if (rNorm <= target) return finish(s, 0, rNorm, "converged");
  let lastRestartNorm = rNorm;
  let rHatNorm = rNorm;
  rHat.set(r);
  const best = new BestIterate(x, rNorm);
  const fail = (norm: number, reason: KrylovStopReason, detail?: string) =>
    giveUp(s, best, r, iterations, norm, reason, detail);
  let fresh = true; // first step after a (re)start: p = r
  let rho = 1;
  let alpha = 1;
  let omega = 1;

  // Restart from the true residual of the current x. Returns a final result when there is nothing to
  // gain (converged, or no progress since the last restart), otherwise null.
  const restart = (why: "breakdown" | "stagnation", detail?: string): KrylovResult | null => {
    rNorm = A.residual(s.b, x, r, false);
    if (!Number.isFinite(rNorm)) return fail(rNorm, "nonFinite");
    if (rNorm <= target) return finish(s, iterations, rNorm, "converged");
    best.note(x, rNorm);
    if (rNorm > lastRestartNorm * (1 - PROGRESS) || (why === "breakdown" && failOnBreakdown))
      return fail(rNorm, why, detail);
    lastRestartNorm = rNorm;
    rHat.set(r);
    rHatNorm = rNorm;
    fresh = true;
    return null;
  };

  while (iterations < maxIterations) {
    const rhoNew = dotAt(rHat, 0, r, n);
    if (!Number.isFinite(rhoNew)) return fail(rNorm, "nonFinite");
    if (Math.abs(rhoNew) <= BREAKDOWN * rHatNorm * rNorm) {
      const done = restart("breakdown", "BiCGSTAB: ρ = (r̂, r) ≈ 0");
      if (done) return done;
      continue;
    }
    if (fresh) p.set(r);
    else {
      const beta = (rhoNew / rho) * (alpha / omega);
      for (let i = 0; i < n; i++) p[i] = r[i] + beta * (p[i] - omega * v[i]);
    }
    fresh = false;
    rho = rhoNew;
    if (M) M(p, pHat);
    A.apply(pHat, v);
    iterations++;
    const rv = dotAt(rHat, 0, v, n);
    const vNorm = Math.sqrt(dotAt(v, 0, v, n));
    if (!Number.isFinite(rv) || !Number.isFinite(vNorm)) return fail(rNorm, "nonFinite");
    if (Math.abs(rv) <= BREAKDOWN * rHatNorm * vNorm) {
      history.push(rNorm / s.bnorm);
      const done = restart("breakdown", "BiCGSTAB: (r̂, A p) ≈ 0");
      if (done) return done;
      continue;
    }
    alpha = rho / rv;
    axpyAt(-alpha, v, 0, r, 0, n); // r ← s = r − α v
    const sNorm = Math.sqrt(dotAt(r, 0, r, n));
    if (sNorm <= target) {
      axpyAt(alpha, pHat, 0, x, 0, n);
      history.push(sNorm / s.bnorm);
      if (opts.onIteration && opts.onIteration(iterations, sNorm / s.bnorm) === false)
        return finish(s, iterations, A.residual(s.b, x, r, false), "stopped"); // already the best
      const done = restart("stagnation");
      if (done) return done;
      continue;
    }
    if (M) M(r, sHat);
    A.apply(sHat, t);
    const tt = dotAt(t, 0, t, n);
    const ts = dotAt(t, 0, r, n);
    if (!Number.isFinite(tt) || !Number.isFinite(ts)) return fail(rNorm, "nonFinite");
    if (Math.abs(ts) <= BREAKDOWN * Math.sqrt(tt) * sNorm) {
      // ω ≈ 0 would stall every later step (β ∝ 1/ω): keep the BiCG half-step, then restart.
      axpyAt(alpha, pHat, 0, x, 0, n);
      history.push(sNorm / s.bnorm);
      const done = restart("breakdown", "BiCGSTAB: ω = (t, s)/(t, t) ≈ 0");
      if (done) return done;
      continue;
    }
    omega = ts / tt;
    axpyAt(alpha, pHat, 0, x, 0, n);
    axpyAt(omega, sHat, 0, x, 0, n);
    axpyAt(-omega, t, 0, r, 0, n);
    rNorm = Math.sqrt(dotAt(r, 0, r, n));
    history.push(rNorm / s.bnorm);
    best.note(x, rNorm);
    if (opts.onIteration && opts.onIteration(iterations, rNorm / s.bnorm) === false)
      return fail(A.residual(s.b, x, r, false), "stopped");
    if (rNorm <= target) {
      const done = restart("stagnation");
      if (done) return done;
    }
  }
  return fail(A.residual(s.b, x, r, false), "maxIterations");
}

/**
 * (Preconditioned) conjugate gradients for symmetric positive-definite operators. Stops with reason
 * "indefinite" as soon as pᵀAp ≤ 0 (relative to ‖p‖‖Ap‖), instead of dividing by it.
 */
export function conjugateGradient(
  op: LinearOperator,
  b: ArrayLike<number>,
  opts: CgOptions = {},
): KrylovResult {
  const s = prepare(op, b, opts);
  if (s.bnorm === 0) return zeroRhs(s);
  const { n, A, x, target, maxIterations, history } = s;
  const M = opts.preconditioner;
  const r = new Float64Array(n);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const zv = M ? new Float64Array(n) : r;

  let iterations = 0;
  let rNorm = A.residual(s.b, x, r, s.xIsZero);
  history.push(rNorm / s.bnorm);
  if (!Number.isFinite(rNorm)) return finish(s, 0, rNorm, "nonFinite");
  if (rNorm <= target) return finish(s, 0, rNorm, "converged");
  let lastRestartNorm = rNorm;
  let rz = 0;
  const best = new BestIterate(x, rNorm);
  const fail = (norm: number, reason: KrylovStopReason, detail?: string) =>
    giveUp(s, best, r, iterations, norm, reason, detail);
  const notPositive = "CG: rᵀM⁻¹r ≤ 0, the preconditioner is not positive definite";

  // (Re)start the directions from the current r; false when the preconditioner is not positive.
  const startDirections = (): boolean => {
    if (M) M(r, zv);
    rz = dotAt(r, 0, zv, n);
    p.set(zv);
    return rz > 0;
  };
  if (!startDirections()) return finish(s, 0, rNorm, "indefinite", notPositive);

  while (iterations < maxIterations) {
    A.apply(p, q);
    iterations++;
    const pq = dotAt(p, 0, q, n);
    const pNorm = Math.sqrt(dotAt(p, 0, p, n));
    const qNorm = Math.sqrt(dotAt(q, 0, q, n));
    if (!Number.isFinite(pq) || !Number.isFinite(qNorm)) return fail(rNorm, "nonFinite");
    if (pq <= BREAKDOWN * pNorm * qNorm) {
      history.push(rNorm / s.bnorm);
      const cos = pq / (pNorm * qNorm);
      return fail(rNorm, "indefinite", `CG: pᵀAp/(‖p‖‖Ap‖) = ${cos.toExponential(2)}, not positive definite`);
    }
    const alpha = rz / pq;
    axpyAt(alpha, p, 0, x, 0, n);
    axpyAt(-alpha, q, 0, r, 0, n);
    rNorm = Math.sqrt(dotAt(r, 0, r, n));
    history.push(rNorm / s.bnorm);
    best.note(x, rNorm);
    if (opts.onIteration && opts.onIteration(iterations, rNorm / s.bnorm) === false)
      return fail(A.residual(s.b, x, r, false), "stopped");
    if (rNorm <= target) {
      // Confirm on the true residual; on drift, restart from it (residual replacement).
      rNorm = A.residual(s.b, x, r, false);
      if (rNorm <= target) return finish(s, iterations, rNorm, "converged");
      if (!Number.isFinite(rNorm)) return fail(rNorm, "nonFinite");
      best.note(x, rNorm);
      if (!(rNorm < lastRestartNorm * (1 - PROGRESS))) return fail(rNorm, "stagnation");
      lastRestartNorm = rNorm;
      if (!startDirections()) return fail(rNorm, "indefinite", notPositive);
      continue;
    }
    const rzOld = rz;
    if (M) M(r, zv);
    rz = dotAt(r, 0, zv, n);
    if (!(rz > 0)) return fail(rNorm, "indefinite", notPositive);
    const beta = rz / rzOld;
    for (let i = 0; i < n; i++) p[i] = zv[i] + beta * p[i];
  }
  return fail(A.residual(s.b, x, r, false), "maxIterations");
}

/** `solveLinear` options: the method (default "gmres") and that method's options. */
export type SolveLinearOptions =
  | ({ method?: "gmres" } & GmresOptions)
  | ({ method: "bicgstab" } & BicgstabOptions)
  | ({ method: "cg" } & CgOptions);

/** Solve (A + λI) x = b with the chosen Krylov method. */
export function solveLinear(
  op: LinearOperator,
  b: ArrayLike<number>,
  options: SolveLinearOptions = {},
): KrylovResult {
  switch (options.method) {
    case "bicgstab":
      return bicgstab(op, b, options);
    case "cg":
      return conjugateGradient(op, b, options);
    default:
      return gmres(op, b, options);
  }
}

export interface NeumannOptions {
  /** Step α ≠ 0; the series converges when ‖I − α(A + λI)‖ < 1 (α < 0 for a negative-definite A). */
  alpha: number;
  /** Number of terms K ≥ 1; K = 1 gives x = α b, which ignores A (the first-order variant). Default 1. */
  terms?: number;
  /** λ ≥ 0: series for (A + λI)⁻¹ b. Default 0. */
  damping?: number;
  /** Stop early when the relative residual ≤ tol. Default 1e-10. */
  tol?: number;
  onIteration?: (iteration: number, relativeResidual: number) => unknown;
}

/**
 * Truncated Neumann series x_K = α Σ_{k<K} (I − αA)^k b, i.e. K Richardson steps from 0:
 * x ← x + α r, r ← r − α A r, with r_k = (I − αA)^k b the exact residual of x_k.
 * K terms cost K operator products (the last only to report the residual of x_K).
 * `iterations` is the number of terms used; "maxIterations" means K terms did not reach tol.
 */
export function neumannSolve(op: LinearOperator, b: ArrayLike<number>, opts: NeumannOptions): KrylovResult {
  const { alpha } = opts;
  if (!Number.isFinite(alpha) || alpha === 0)
    throw new RangeError(`alpha must be finite and ≠ 0, got ${alpha}`);
  const terms = opts.terms ?? 1;
  if (!Number.isInteger(terms) || terms < 1)
    throw new RangeError(`terms must be an integer ≥ 1, got ${terms}`);
  const s = prepare(op, b, { damping: opts.damping, tol: opts.tol });
  if (s.bnorm === 0) return zeroRhs(s);
  const { n, A, x, target, history } = s;
  const r = s.b.slice();
  const w = new Float64Array(n);
  let rNorm = s.bnorm;
  history.push(1);
  for (let k = 1; k <= terms; k++) {
    A.apply(r, w);
    // Checked before updating, so a non-finite product leaves x_{k−1} and its residual.
    if (!Number.isFinite(dotAt(w, 0, w, n))) return finish(s, k - 1, rNorm, "nonFinite");
    axpyAt(alpha, r, 0, x, 0, n);
    axpyAt(-alpha, w, 0, r, 0, n);
    rNorm = Math.sqrt(dotAt(r, 0, r, n));
    history.push(rNorm / s.bnorm);
    if (opts.onIteration && opts.onIteration(k, rNorm / s.bnorm) === false)
      return finish(s, k, rNorm, "stopped");
    if (rNorm <= target) return finish(s, k, rNorm, "converged");
  }
  return finish(s, terms, rNorm, "maxIterations");
}

/** Dense row-major n×n matrix as an operator (x ↦ A x, or x ↦ Aᵀ x), for small cases and tests. */
export function denseOperator(a: ArrayLike<number>, n: number, transpose = false): LinearOperator {
  if (a.length !== n * n) throw new RangeError(`matrix has ${a.length} entries, expected ${n * n}`);
  const m = a instanceof Float64Array ? a : Float64Array.from(a);
  return transpose
    ? (x, out) => {
        out.fill(0);
        for (let i = 0; i < n; i++) axpyAt(x[i], m, i * n, out, 0, n);
      }
    : (x, out) => {
        for (let i = 0; i < n; i++) out[i] = dotAt(m, i * n, x, n);
      };
}
