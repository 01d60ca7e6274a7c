/**
 * Box-constrained convex quadratic programme
 *
 *   min_x ½ xᵀH x + gᵀx   subject to   lo ≤ x ≤ hi        (H symmetric, k×k, positive definite on the free set)
 *
 * by projected Newton (Bertsekas 1982, "Projected Newton methods for optimization problems with simple
 * constraints"; the variant of Tassa, Mansard & Todorov 2014, "Control-limited differential dynamic
 * programming"): at each iterate the *clamped* set is C = {i : x_i = lo_i and ∂_i > 0, or
 * x_i = hi_i and ∂_i < 0} (∂ = Hx + g), the Newton direction is taken on the free set F with the clamped
 * variables held, d_F = −H_FF⁻¹ ∂_F, d_C = 0, and a projected Armijo line search along clamp(x + αd).
 * Once the optimal active set is found the next full step is exact (a QP), so the solver returns the
 * optimum to rounding; it stops when ‖∂_F‖∞ ≤ tol·max(1, ‖g‖∞, ‖H‖∞·‖x‖∞).
 *
 * Used twice: per stage of the control-limited DDP backward pass (k = m, the feedforward step), and for
 * the condensed LQ-MPC problem (k = N·m). Plain Float64 loops: the problems have a few dozen variables.
 */

/** Result of `boxQp`. `x` is always inside the box. */
export interface BoxQpResult {
  x: Float64Array;
  /** 1 where x_i is free at the solution (not clamped), 0 where it sits on a bound with ∂_i pushing out. */
  free: Uint8Array;
  iterations: number;
  /** "converged", "all-clamped" (every variable on a bound), "max-iterations", "small-step" or
   * "not-pd" (H_FF not positive definite: no step was taken from the last iterate). */
  status: "converged" | "all-clamped" | "max-iterations" | "small-step" | "not-pd";
  /** ‖∂_F‖∞ at the returned x (the KKT residual of the free variables). */
  gradNorm: number;
}

export interface BoxQpOptions {
  /** Relative tolerance on the free gradient (default 1e-13). */
  tol?: number;
  maxIterations?: number;
  /** Armijo constant of the projected line search (default 0.1). */
  armijo?: number;
}

/**
 * In-place Cholesky factorisation of the rows/columns `idx` of the k×k matrix H into L (row-major
 * |idx|×|idx|, lower). Returns false if that block is not (numerically) positive definite.
 */
export function choleskyBlock(
  H: ArrayLike<number>,
  k: number,
  idx: ArrayLike<number>,
  nf: number,
  L: Float64Array,
): boolean {
  for (let i = 0; i < nf; i++) {
    const hi = idx[i] * k;
    for (let j = 0; j <= i; j++) {
      let s = H[hi + idx[j]];
      for (let l = 0; l < j; l++) s -= L[i * nf + l] * L[j * nf + l];
      if (i === j) {
        // Relative pivot test: a pivot at rounding level of the diagonal is not positive definite.
        if (!(s > 1e-14 * Math.abs(H[hi + idx[i]])) || !Number.isFinite(s)) return false;
        L[i * nf + i] = Math.sqrt(s);
      } else L[i * nf + j] = s / L[j * nf + j];
    }
  }
  return true;
}

/** Solve (L Lᵀ) y = b in place (b has nf entries, L from `choleskyBlock`). */
export function choleskySolve(L: Float64Array, nf: number, b: Float64Array): void {
  for (let i = 0; i < nf; i++) {
    let s = b[i];
    for (let l = 0; l < i; l++) s -= L[i * nf + l] * b[l];
    b[i] = s / L[i * nf + i];
  }
  for (let i = nf - 1; i >= 0; i--) {
    let s = b[i];
    for (let l = i + 1; l < nf; l++) s -= L[l * nf + i] * b[l];
    b[i] = s / L[i * nf + i];
  }
}

function clampInto(
  x: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  out: Float64Array,
): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i];
    out[i] = v > hi[i] ? hi[i] : v < lo[i] ? lo[i] : v;
  }
}

function quadValue(H: ArrayLike<number>, g: ArrayLike<number>, x: ArrayLike<number>, k: number): number {
  let v = 0;
  for (let i = 0; i < k; i++) {
    let hx = 0;
    for (let j = 0; j < k; j++) hx += H[i * k + j] * x[j];
    v += x[i] * (0.5 * hx + g[i]);
  }
  return v;
}

/**
 * Solve the box QP from the starting point `x0` (clamped into the box first; pass the previous solution to
 * warm-start). Bounds may be ±Infinity.
 */
export function boxQp(
  H: ArrayLike<number>,
  g: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  x0: ArrayLike<number>,
  opts: BoxQpOptions = {},
): BoxQpResult {
  const k = g.length;
  const tol = opts.tol ?? 1e-13;
  const maxIt = opts.maxIterations ?? 100;
  const armijo = opts.armijo ?? 0.1;
  const x = new Float64Array(k);
  clampInto(x0, lo, hi, x);
  const grad = new Float64Array(k);
  const free = new Uint8Array(k);
  const idx = new Int32Array(k);
  const L = new Float64Array(k * k);
  const d = new Float64Array(k);
  const rhs = new Float64Array(k);
  const trial = new Float64Array(k);
  let hNorm = 0;
  for (let i = 0; i < k; i++) {
    let row = 0;
    for (let j = 0; j < k; j++) row += Math.abs(H[i * k + j]);
    hNorm = Math.max(hNorm, row);
  }
  let gNorm = 0;
  for (let i = 0; i < k; i++) gNorm = Math.max(gNorm, Math.abs(g[i]));
  let f = quadValue(H, g, x, k);
  let status: BoxQpResult["status"] = "max-iterations";
  let gradNorm = Number.POSITIVE_INFINITY;
  let it = 0;
  for (; ; it++) {
    // ∂ = H x + g and the clamped set at x.
    let nf = 0;
    let xNorm = 0;
    gradNorm = 0;
    for (let i = 0; i < k; i++) {
      let s = g[i];
      for (let j = 0; j < k; j++) s += H[i * k + j] * x[j];
      grad[i] = s;
      const clamped = (x[i] === lo[i] && s > 0) || (x[i] === hi[i] && s < 0);
      free[i] = clamped ? 0 : 1;
      if (!clamped) {
        idx[nf++] = i;
        gradNorm = Math.max(gradNorm, Math.abs(s));
      }
      xNorm = Math.max(xNorm, Math.abs(x[i]));
    }
    if (nf === 0) {
      status = "all-clamped";
      gradNorm = 0;
      break;
    }
    if (gradNorm <= tol * Math.max(1, gNorm, hNorm * xNorm)) {
      status = "converged";
      break;
    }
    if (it >= maxIt) break;
    if (!choleskyBlock(H, k, idx, nf, L)) {
      status = "not-pd";
      break;
    }
    // Newton direction on the free set, the clamped variables held (d_C = 0).
    for (let a = 0; a < nf; a++) rhs[a] = -grad[idx[a]];
    choleskySolve(L, nf, rhs);
    d.fill(0);
    for (let a = 0; a < nf; a++) d[idx[a]] = rhs[a];
    // Projected Armijo search: f(P(x + αd)) ≤ f(x) + c ∂ᵀ(P(x + αd) − x).
    let alpha = 1;
    let accepted = false;
    let moved = 0;
    for (let ls = 0; ls < 40; ls++, alpha *= 0.5) {
      let clipped = false;
      for (let i = 0; i < k; i++) {
        const v = x[i] + alpha * d[i];
        trial[i] = v > hi[i] ? hi[i] : v < lo[i] ? lo[i] : v;
        if (trial[i] !== v) clipped = true;
      }
      let lin = 0;
      moved = 0;
      for (let i = 0; i < k; i++) {
        lin += grad[i] * (trial[i] - x[i]);
        moved = Math.max(moved, Math.abs(trial[i] - x[i]));
      }
      const ft = quadValue(H, g, trial, k);
      // A full, unclipped step is the exact minimiser on the free face (H_FF ≻ 0): take it even when the
      // decrease is below the rounding of f (the last, polishing step).
      if ((alpha === 1 && !clipped) || ft <= f + armijo * lin) {
        accepted = true;
        f = ft;
        break;
      }
    }
    if (!accepted || moved === 0) {
      // No decrease at rounding level: x is optimal to the precision f can be evaluated.
      status = "small-step";
      break;
    }
    x.set(trial);
  }
  return { x, free, iterations: it, status, gradNorm };
}
