/**
 * Thin helpers over ml-matrix for flat row-major Float64 arrays: LU factorisation reused across
 * right-hand sides, and a few vector utilities. Everything here is Float64.
 */
import { LuDecomposition, Matrix } from "ml-matrix";

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

/** An LU factorisation of a square matrix that solves A x = b and Aᵀ x = b for many right-hand sides. */
export class Lu {
  readonly n: number;
  private readonly lu: LuDecomposition;
  private luT: LuDecomposition | null = null;
  private readonly a: Matrix;

  constructor(a: ArrayLike<number>, n: number) {
    this.n = n;
    this.a = toMatrix(a, n, n);
    this.lu = new LuDecomposition(this.a);
    if (this.lu.isSingular()) throw new Error("singular matrix in LU solve");
  }

  /** Solve A X = B, B row-major n×k (k = 1 for a vector). */
  solve(b: ArrayLike<number>, k = 1): Float64Array {
    return fromMatrix(this.lu.solve(toMatrix(b, this.n, k)));
  }

  /** Solve Aᵀ X = B. */
  solveTransposed(b: ArrayLike<number>, k = 1): Float64Array {
    if (this.luT === null) this.luT = new LuDecomposition(this.a.transpose());
    return fromMatrix(this.luT.solve(toMatrix(b, this.n, k)));
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
