/**
 * Small dense row-major matrix helpers (Float64) for the linear-Gaussian code, where matrices are a few
 * rows wide and clarity beats a library call per product.
 */
import { Lu } from "./linalg.ts";

/** A (r×k) · B (k×c). */
export function matmul(
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  r: number,
  k: number,
  c: number,
): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++)
    for (let l = 0; l < k; l++) {
      const a = A[i * k + l];
      if (a === 0) continue;
      for (let j = 0; j < c; j++) out[i * c + j] += a * B[l * c + j];
    }
  return out;
}

/** Aᵀ of an r×c matrix. */
export function transpose(A: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = A[i * c + j];
  return out;
}

/** α·A + β·B elementwise. */
export function axpby(alpha: number, A: ArrayLike<number>, beta: number, B: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: A.length }, (_, i) => alpha * A[i] + beta * B[i]);
}

/** X with A X = B, A k×k, B k×c. */
export function solve(A: ArrayLike<number>, B: ArrayLike<number>, k: number, c: number): Float64Array {
  return new Lu(A, k).solve(B, c);
}

/**
 * Discounted Lyapunov (Stein) equation X = γ Fᵀ X F + E for all right-hand sides E at once, by its
 * vectorised form (I − γ Fᵀ⊗Fᵀ) vec X = vec E (row-major vec: vec(Fᵀ X F) = (Fᵀ⊗Fᵀ) vec X).
 * Returns a solver reusing one LU of the n²×n² operator.
 */
export function steinSolver(
  F: ArrayLike<number>,
  n: number,
  gamma: number,
): (E: ArrayLike<number>) => Float64Array {
  const n2 = n * n;
  const T = new Float64Array(n2 * n2);
  // Row (i, j) of vec(Fᵀ X F): Σ_{k,l} F[k,i] X[k,l] F[l,j].
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const row = (i * n + j) * n2;
      for (let k = 0; k < n; k++)
        for (let l = 0; l < n; l++) T[row + k * n + l] = -gamma * F[k * n + i] * F[l * n + j];
      T[row + i * n + j] += 1;
    }
  const lu = new Lu(T, n2);
  return (E) => lu.solve(E);
}

/** Largest absolute entry of A − B. */
export function maxAbsDiff(A: ArrayLike<number>, B: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < A.length; i++) m = Math.max(m, Math.abs(A[i] - B[i]));
  return m;
}
