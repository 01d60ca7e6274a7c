/**
 * Thin helpers over ml-matrix for flat row-major Float64 arrays: LU factorisation reused across
 * right-hand sides, and a few vector utilities. Everything here is Float64.
 */
import { Matrix } from "ml-matrix";

/** Row-major n×m flat array → ml-matrix Matrix. */
export function toMatrix(a: ArrayLike<number>, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, a[i * cols + j]);
  return m;
}

/** ml-matrix Matrix → row-major flat Float64Array. */
export function fromMatrix(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.columns);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.columns; j++) out[i * m.columns + j] = m.get(i, j);
  return out;
}

/** Partial pivoting for column k: swaps the row with the largest |entry| at or below the diagonal into
 * row k (whole rows, multipliers included) and returns its index. */
function pivot(lu: Float64Array, n: number, k: number): number {
  let p = k;
  let max = Math.abs(lu[k * n + k]);
  for (let i = k + 1; i < n; i++) {
    const v = Math.abs(lu[i * n + k]);
    if (v > max) {
      max = v;
      p = i;
    }
  }
  if (max === 0 || !Number.isFinite(max)) throw new Error("singular matrix in LU solve");
  if (p !== k)
    for (let j = 0, rk = k * n, rp = p * n; j < n; j++) {
      const t = lu[rk + j];
      lu[rk + j] = lu[rp + j];
      lu[rp + j] = t;
    }
  return p;
}

/**
 * Gaussian elimination steps k and k+1 with a single pass over the trailing block, where each entry
 * becomes a − l_k u_k − l_{k+1} u_{k+1}, evaluated left to right: exactly the two rank-1 updates in
 * sequence (same rounding, same factors), but each entry is loaded and stored once instead of twice —
 * the O(n³) part, ~25% faster.
 * Column k+1 and row k+1 are brought up to date first: the second pivot is chosen on them.
 */
function eliminatePair(lu: Float64Array, n: number, k: number, piv: Int32Array): void {
  const rk = k * n;
  const rk1 = rk + n;
  piv[k] = pivot(lu, n, k);
  const inv = 1 / lu[rk + k];
  const uk1 = lu[rk + k + 1];
  for (let ri = rk1; ri < n * n; ri += n) {
    const l = lu[ri + k] * inv;
    lu[ri + k] = l;
    if (l !== 0) lu[ri + k + 1] -= l * uk1;
  }
  piv[k + 1] = pivot(lu, n, k + 1);
  const lk1 = lu[rk1 + k];
  if (lk1 !== 0) for (let j = k + 2; j < n; j++) lu[rk1 + j] -= lk1 * lu[rk + j];
  const inv1 = 1 / lu[rk1 + k + 1];
  for (let ri = rk1 + n; ri < n * n; ri += n) {
    const l = lu[ri + k];
    const l1 = lu[ri + k + 1] * inv1;
    lu[ri + k + 1] = l1;
    if (l === 0 && l1 === 0) continue;
    // Unrolled by 4: V8 neither vectorises nor unrolls.
    const end = ri + n;
    let q = ri + k + 2;
    let u = rk + k + 2;
    let v = rk1 + k + 2;
    for (; q + 3 < end; q += 4, u += 4, v += 4) {
      lu[q] = lu[q] - l * lu[u] - l1 * lu[v];
      lu[q + 1] = lu[q + 1] - l * lu[u + 1] - l1 * lu[v + 1];
      lu[q + 2] = lu[q + 2] - l * lu[u + 2] - l1 * lu[v + 2];
      lu[q + 3] = lu[q + 3] - l * lu[u + 3] - l1 * lu[v + 3];
    }
    for (; q < end; q++, u++, v++) lu[q] = lu[q] - l * lu[u] - l1 * lu[v];
  }
}

/**
 * LU factorisation with partial pivoting of a dense row-major Float64 matrix, reused across right-hand
 * sides and for the transposed system. Written on flat arrays because the tabular solvers factorise many
 * small (S×S) matrices per outer iteration (it is the largest single cost of the 50×4 adjoint bench):
 * at 50×50 it takes ~40 µs, against ~0.23 ms for ml-matrix's LuDecomposition, which stays the reference
 * the tests compare against.
 */
export class Lu {
  readonly n: number;
  private readonly lu: Float64Array;
  private readonly piv: Int32Array;

  /** `overwrite`: factorise `a` (a Float64Array) in place instead of a copy, for callers that build the
   * matrix only to factorise it. */
  constructor(a: ArrayLike<number>, n: number, options: { overwrite?: boolean } = {}) {
    this.n = n;
    // slice() copies a typed array directly; Float64Array.from would go through the iterator.
    const lu = a instanceof Float64Array ? (options.overwrite ? a : a.slice()) : Float64Array.from(a);
    const piv = new Int32Array(n);
    let k = 0;
    for (; k + 1 < n; k += 2) eliminatePair(lu, n, k, piv);
    if (k < n) piv[k] = pivot(lu, n, k); // odd n: the last column has nothing below it
    this.lu = lu;
    this.piv = piv;
  }

  /** log |det A| (the sum of log |U_ii|; pivoting changes only the sign). */
  logAbsDet(): number {
    let ld = 0;
    for (let i = 0; i < this.n; i++) ld += Math.log(Math.abs(this.lu[i * this.n + i]));
    return ld;
  }

  /** Solve A X = B, B row-major n×k (k = 1 for a vector). */
  solve(b: ArrayLike<number>, k = 1): Float64Array {
    const { n, lu, piv } = this;
    const x = b instanceof Float64Array ? b.slice() : Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      const p = piv[i];
      if (p !== i)
        for (let c = 0; c < k; c++) {
          const t = x[i * k + c];
          x[i * k + c] = x[p * k + c];
          x[p * k + c] = t;
        }
    }
    if (k === 1) return this.substituteVector(x);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < i; j++) {
        const l = lu[i * n + j];
        if (l !== 0) for (let c = 0; c < k; c++) x[i * k + c] -= l * x[j * k + c];
      }
    for (let i = n - 1; i >= 0; i--) {
      for (let j = i + 1; j < n; j++) {
        const u = lu[i * n + j];
        if (u !== 0) for (let c = 0; c < k; c++) x[i * k + c] -= u * x[j * k + c];
      }
      const d = 1 / lu[i * n + i];
      for (let c = 0; c < k; c++) x[i * k + c] *= d;
    }
    return x;
  }

  /** L then U substitution for one (already permuted) right-hand side, in place: the k = 1 case of
   * `solve` without its per-column loops, which dominate at k = 1. Same operations in the same order. */
  private substituteVector(x: Float64Array): Float64Array {
    const { n, lu } = this;
    for (let i = 0; i < n; i++) {
      const ri = i * n;
      let acc = x[i];
      for (let j = 0; j < i; j++) {
        const l = lu[ri + j];
        if (l !== 0) acc -= l * x[j];
      }
      x[i] = acc;
    }
    for (let i = n - 1; i >= 0; i--) {
      const ri = i * n;
      let acc = x[i];
      for (let j = i + 1; j < n; j++) {
        const u = lu[ri + j];
        if (u !== 0) acc -= u * x[j];
      }
      x[i] = acc * (1 / lu[ri + i]);
    }
    return x;
  }

  /** Solve Aᵀ x = b with the same factors (PA = LU ⇒ Aᵀ = Uᵀ Lᵀ P). */
  solveTransposed(b: ArrayLike<number>): Float64Array {
    const { n, lu, piv } = this;
    const x = b instanceof Float64Array ? b.slice() : Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      let acc = x[i];
      for (let j = 0; j < i; j++) acc -= lu[j * n + i] * x[j];
      x[i] = acc / lu[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let acc = x[i];
      for (let j = i + 1; j < n; j++) acc -= lu[j * n + i] * x[j];
      x[i] = acc;
    }
    for (let i = n - 1; i >= 0; i--) {
      const p = piv[i];
      if (p !== i) {
        const t = x[i];
        x[i] = x[p];
        x[p] = t;
      }
    }
    return x;
  }
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = norm(a);
  const nb = norm(b);
  return na === 0 || nb === 0 ? 0 : dot(a, b) / (na * nb);
}

/** ‖a − b‖ / max(‖b‖, tiny): relative error of a against reference b. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  for (let i = 0; i < a.length; i++) num += (a[i] - b[i]) ** 2;
  return Math.sqrt(num) / Math.max(norm(b), 1e-300);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/*
 * Kernels for the O(S²A) passes of the tabular code (rows of P against a state vector). Unrolled by 4
 * with one accumulator, so the sum is taken in the same order as a plain loop (same rounding) at ~30%
 * less time: V8 neither vectorises nor unrolls.
 */

/** Σ_{i<n} a[aOff + i] · b[i]. */
export function dotAt(a: Float64Array, aOff: number, b: Float64Array, n: number): number {
  let acc = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    acc += a[aOff + i] * b[i];
    acc += a[aOff + i + 1] * b[i + 1];
    acc += a[aOff + i + 2] * b[i + 2];
    acc += a[aOff + i + 3] * b[i + 3];
  }
  for (; i < n; i++) acc += a[aOff + i] * b[i];
  return acc;
}

/** y[yOff + i] += alpha · x[xOff + i] for i < n. */
export function axpyAt(
  alpha: number,
  x: Float64Array,
  xOff: number,
  y: Float64Array,
  yOff: number,
  n: number,
): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    y[yOff + i] += alpha * x[xOff + i];
    y[yOff + i + 1] += alpha * x[xOff + i + 1];
    y[yOff + i + 2] += alpha * x[xOff + i + 2];
    y[yOff + i + 3] += alpha * x[xOff + i + 3];
  }
  for (; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
}
