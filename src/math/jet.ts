/**
 * Second-order forward-mode differentiation of small matrix computations ("jets").
 *
 * A jet carries a matrix value together with its first derivatives along `np` parameter directions and
 * the second derivatives ∂²/∂p_i∂p_j for the first `nh` directions against all `np` (the rows of the
 * Hessian we need: for an implicit-function solve dK/dθ = −J_KK⁻¹ J_Kθ the K rows suffice). Results are
 * exact to rounding, with no step size, which is what sensitivity work needs; finite differences stay
 * the independent check in the tests.
 *
 * Storage: one Float64Array of `nb = 1 + np + nh·np` blocks of r·c entries (row-major): block 0 the value,
 * block 1 + i the derivative along p_i, block 1 + np + i·np + j the second derivative along (p_i, p_j).
 * `nz` flags blocks known to be nonzero, so products skip the structural zeros (most parameters enter
 * only one factor).
 */

export class JetSpace {
  /** Number of first-order directions. */
  readonly np: number;
  /** Hessian rows kept: directions 0..nh−1 against all np. */
  readonly nh: number;
  /** Blocks per jet. */
  readonly nb: number;

  constructor(np: number, nh: number) {
    if (!Number.isInteger(np) || np < 0 || !Number.isInteger(nh) || nh < 0 || nh > np)
      throw new RangeError(`JetSpace: need integers 0 ≤ nh ≤ np, got np = ${np}, nh = ${nh}`);
    this.np = np;
    this.nh = nh;
    this.nb = 1 + np + nh * np;
  }

  /** Block index of ∂/∂p_i. */
  g(i: number): number {
    return 1 + i;
  }

  /** Block index of ∂²/∂p_i∂p_j (i < nh). */
  h(i: number, j: number): number {
    return 1 + this.np + i * this.np + j;
  }

  /** A zero jet of shape r×c. */
  zeros(r: number, c: number): Jet {
    return { r, c, d: new Float64Array(this.nb * r * c), nz: new Uint8Array(this.nb) };
  }

  /** A jet whose value is `value` (row-major r×c) plus Σ coef·p_param at `entry`: a matrix that is
   * affine in the parameters (its second derivatives vanish). */
  affine(r: number, c: number, value: ArrayLike<number>, terms: readonly AffineTerm[] = []): Jet {
    const J = this.zeros(r, c);
    const bs = r * c;
    for (let e = 0; e < bs; e++) J.d[e] = value[e];
    J.nz[0] = 1;
    for (const t of terms) {
      if (t.param >= this.np) continue;
      const b = this.g(t.param);
      J.d[b * bs + t.entry] += t.coef;
      J.nz[b] = 1;
    }
    return J;
  }
}

export interface Jet {
  r: number;
  c: number;
  d: Float64Array;
  nz: Uint8Array;
}

export interface AffineTerm {
  /** Parameter (direction) index. */
  param: number;
  /** Row-major entry of the matrix. */
  entry: number;
  coef: number;
}

/** out += A[aOff] · B[bOff] for row-major blocks A (r×k), B (k×c), out (r×c). */
function mmAcc(
  out: Float64Array,
  oOff: number,
  A: Float64Array,
  aOff: number,
  B: Float64Array,
  bOff: number,
  r: number,
  k: number,
  c: number,
): void {
  for (let i = 0; i < r; i++) {
    const ai = aOff + i * k;
    const oi = oOff + i * c;
    for (let l = 0; l < k; l++) {
      const a = A[ai + l];
      if (a === 0) continue;
      const bl = bOff + l * c;
      for (let j = 0; j < c; j++) out[oi + j] += a * B[bl + j];
    }
  }
}

/** out = A·B with the product rule through second order. `out` must not alias A or B. */
export function jmul(S: JetSpace, out: Jet, A: Jet, B: Jet): void {
  const { r, c: k } = A;
  const c = B.c;
  if (B.r !== k || out.r !== r || out.c !== c)
    throw new RangeError(`jmul: shapes ${A.r}×${A.c} · ${B.r}×${B.c} → ${out.r}×${out.c}`);
  const as = r * k;
  const bs = k * c;
  const os = r * c;
  const { np, nh } = S;
  const an = A.nz;
  const bn = B.nz;
  const on = out.nz;
  const ad = A.d;
  const bd = B.d;
  const od = out.d;
  if (as === 1 && bs === 1) {
    jmulScalar(S, od, on, ad, an, bd, bn);
    return;
  }
  od.fill(0);
  on.fill(0);
  mmAcc(od, 0, ad, 0, bd, 0, r, k, c);
  on[0] = 1;
  for (let i = 0; i < np; i++) {
    const gi = 1 + i;
    if (an[gi]) {
      mmAcc(od, gi * os, ad, gi * as, bd, 0, r, k, c);
      on[gi] = 1;
    }
    if (bn[gi]) {
      mmAcc(od, gi * os, ad, 0, bd, gi * bs, r, k, c);
      on[gi] = 1;
    }
  }
  for (let i = 0; i < nh; i++) {
    const gi = 1 + i;
    for (let j = 0; j < np; j++) {
      const gj = 1 + j;
      const hij = 1 + np + i * np + j;
      if (an[hij]) {
        mmAcc(od, hij * os, ad, hij * as, bd, 0, r, k, c);
        on[hij] = 1;
      }
      if (bn[hij]) {
        mmAcc(od, hij * os, ad, 0, bd, hij * bs, r, k, c);
        on[hij] = 1;
      }
      if (an[gi] && bn[gj]) {
        mmAcc(od, hij * os, ad, gi * as, bd, gj * bs, r, k, c);
        on[hij] = 1;
      }
      if (an[gj] && bn[gi]) {
        mmAcc(od, hij * os, ad, gj * as, bd, gi * bs, r, k, c);
        on[hij] = 1;
      }
    }
  }
}

/** jmul for 1×1 jets (the paper's scalar example spends its time here): the same product rule on
 * numbers, without the block-matrix loops. */
function jmulScalar(
  S: JetSpace,
  od: Float64Array,
  on: Uint8Array,
  ad: Float64Array,
  an: Uint8Array,
  bd: Float64Array,
  bn: Uint8Array,
): void {
  const { np, nh } = S;
  const a0 = ad[0];
  const b0 = bd[0];
  od[0] = a0 * b0;
  on[0] = 1;
  for (let i = 1; i <= np; i++) {
    const za = an[i];
    const zb = bn[i];
    od[i] = (za ? ad[i] * b0 : 0) + (zb ? a0 * bd[i] : 0);
    on[i] = za | zb;
  }
  for (let i = 0; i < nh; i++) {
    const gi = 1 + i;
    for (let j = 0; j < np; j++) {
      const gj = 1 + j;
      const h = 1 + np + i * np + j;
      let v = 0;
      let z = 0;
      if (an[h]) {
        v += ad[h] * b0;
        z = 1;
      }
      if (bn[h]) {
        v += a0 * bd[h];
        z = 1;
      }
      if (an[gi] && bn[gj]) {
        v += ad[gi] * bd[gj];
        z = 1;
      }
      if (an[gj] && bn[gi]) {
        v += ad[gj] * bd[gi];
        z = 1;
      }
      od[h] = v;
      on[h] = z;
    }
  }
}

/** out = α·A + β·B (elementwise; out may alias A or B). */
export function jaxpby(out: Jet, alpha: number, A: Jet, beta: number, B: Jet): void {
  const bs = A.r * A.c;
  if (B.r !== A.r || B.c !== A.c || out.r !== A.r || out.c !== A.c)
    throw new RangeError(`jaxpby: shapes ${A.r}×${A.c}, ${B.r}×${B.c} → ${out.r}×${out.c}`);
  const nb = A.nz.length;
  for (let b = 0; b < nb; b++) {
    const za = A.nz[b];
    const zb = B.nz[b];
    const o = b * bs;
    if (!za && !zb) {
      if (out.nz[b]) out.d.fill(0, o, o + bs);
      out.nz[b] = 0;
      continue;
    }
    for (let e = 0; e < bs; e++) out.d[o + e] = (za ? alpha * A.d[o + e] : 0) + (zb ? beta * B.d[o + e] : 0);
    out.nz[b] = 1;
  }
}

/** out = Aᵀ (out must not alias A). */
export function jtranspose(out: Jet, A: Jet): void {
  const { r, c } = A;
  if (out.r !== c || out.c !== r) throw new RangeError(`jtranspose: ${r}×${c} → ${out.r}×${out.c}`);
  const bs = r * c;
  const nb = A.nz.length;
  for (let b = 0; b < nb; b++) {
    out.nz[b] = A.nz[b];
    const o = b * bs;
    if (!A.nz[b]) {
      out.d.fill(0, o, o + bs);
      continue;
    }
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out.d[o + j * r + i] = A.d[o + i * c + j];
  }
}

/** Copy A into out (same shape). */
export function jcopy(out: Jet, A: Jet): void {
  out.d.set(A.d);
  out.nz.set(A.nz);
}

/** tr(A) of a square jet, as a scalar jet (one number per block). */
export function jtrace(S: JetSpace, A: Jet, out = new Float64Array(S.nb)): Float64Array {
  const n = A.r;
  const bs = n * n;
  for (let b = 0; b < S.nb; b++) {
    let t = 0;
    if (A.nz[b]) for (let i = 0; i < n; i++) t += A.d[b * bs + i * n + i];
    out[b] = t;
  }
  return out;
}

/**
 * log det G of a square jet: value log det G₀; first order tr(G₀⁻¹ G_i); second order
 * tr(G₀⁻¹ G_ij) − tr(G₀⁻¹ G_i G₀⁻¹ G_j). G₀ must have positive determinant (it is I + PSD·PSD here).
 */
export function jlogdet(S: JetSpace, G: Jet, work: LogdetWork, out = new Float64Array(S.nb)): Float64Array {
  const n = G.r;
  const bs = n * n;
  const { np, nh } = S;
  const inv = work.inv;
  const logdet = invertSmall(G.d, n, inv, work.lu);
  out.fill(0);
  out[0] = logdet;
  // Y_i = G₀⁻¹ G_i for every direction with a nonzero block.
  const Y = work.Y;
  for (let i = 0; i < np; i++) {
    const gi = 1 + i;
    if (!G.nz[gi]) continue;
    Y.fill(0, i * bs, (i + 1) * bs);
    mmAcc(Y, i * bs, inv, 0, G.d, gi * bs, n, n, n);
    let t = 0;
    for (let a = 0; a < n; a++) t += Y[i * bs + a * n + a];
    out[gi] = t;
  }
  for (let i = 0; i < nh; i++) {
    for (let j = 0; j < np; j++) {
      const hij = 1 + np + i * np + j;
      let t = 0;
      if (G.nz[hij]) {
        // tr(G₀⁻¹ G_ij) = Σ_ab inv[a,b] G_ij[b,a]
        const o = hij * bs;
        for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) t += inv[a * n + b] * G.d[o + b * n + a];
      }
      if (G.nz[1 + i] && G.nz[1 + j]) {
        const yi = i * bs;
        const yj = j * bs;
        for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) t -= Y[yi + a * n + b] * Y[yj + b * n + a];
      }
      out[hij] = t;
    }
  }
  return out;
}

export interface LogdetWork {
  inv: Float64Array;
  lu: Float64Array;
  Y: Float64Array;
}

export function logdetWork(S: JetSpace, n: number): LogdetWork {
  return {
    inv: new Float64Array(n * n),
    lu: new Float64Array(n * n),
    Y: new Float64Array(Math.max(1, S.np) * n * n),
  };
}

/** Inverse of the value block (row-major n×n, at offset 0 of a) into inv; returns log|det|.
 * Gauss–Jordan with partial pivoting: n ≤ ~10 here. */
function invertSmall(a: Float64Array, n: number, inv: Float64Array, lu: Float64Array): number {
  if (n === 1) {
    if (a[0] === 0 || !Number.isFinite(a[0])) throw new Error("jlogdet: singular or non-finite matrix");
    inv[0] = 1 / a[0];
    return Math.log(Math.abs(a[0]));
  }
  for (let e = 0; e < n * n; e++) {
    lu[e] = a[e];
    inv[e] = 0;
  }
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  let logdet = 0;
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
    if (max === 0 || !Number.isFinite(max)) throw new Error("jlogdet: singular or non-finite matrix");
    if (p !== k)
      for (let j = 0; j < n; j++) {
        let t = lu[k * n + j];
        lu[k * n + j] = lu[p * n + j];
        lu[p * n + j] = t;
        t = inv[k * n + j];
        inv[k * n + j] = inv[p * n + j];
        inv[p * n + j] = t;
      }
    const piv = lu[k * n + k];
    logdet += Math.log(Math.abs(piv));
    const ip = 1 / piv;
    for (let j = 0; j < n; j++) {
      lu[k * n + j] *= ip;
      inv[k * n + j] *= ip;
    }
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = lu[i * n + k];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        lu[i * n + j] -= f * lu[k * n + j];
        inv[i * n + j] -= f * inv[k * n + j];
      }
    }
  }
  return logdet;
}

/** A ← α·A + β·I (square A, in place). */
export function jscaleAddIdentity(A: Jet, alpha: number, beta: number): void {
  const n = A.r;
  const bs = n * n;
  for (let b = 0; b < A.nz.length; b++) {
    if (!A.nz[b]) continue;
    const o = b * bs;
    for (let e = 0; e < bs; e++) A.d[o + e] *= alpha;
  }
  for (let i = 0; i < n; i++) A.d[i * n + i] += beta;
  A.nz[0] = 1;
}

/**
 * out = X⁻¹ of a square jet: (X⁻¹)_i = −X⁻¹ X_i X⁻¹ and
 * (X⁻¹)_ij = −(X⁻¹ X_ij X⁻¹ + (X⁻¹)_j X_i X⁻¹ + (X⁻¹)_i X_j X⁻¹).
 */
export function jinverse(S: JetSpace, out: Jet, X: Jet): void {
  const n = X.r;
  const bs = n * n;
  const { np, nh } = S;
  const inv = new Float64Array(bs);
  invertSmall(X.d, n, inv, new Float64Array(bs));
  out.d.fill(0);
  out.nz.fill(0);
  out.d.set(inv, 0);
  out.nz[0] = 1;
  const tmp = new Float64Array(bs);
  // −inv · Y · inv into out block o
  const sandwich = (o: number, src: Float64Array, sOff: number, left: Float64Array, lOff: number) => {
    tmp.fill(0);
    mmAcc(tmp, 0, left, lOff, src, sOff, n, n, n);
    const res = new Float64Array(bs);
    mmAcc(res, 0, tmp, 0, inv, 0, n, n, n);
    for (let e = 0; e < bs; e++) out.d[o * bs + e] -= res[e];
  };
  for (let i = 0; i < np; i++) {
    const gi = 1 + i;
    if (!X.nz[gi]) continue;
    sandwich(gi, X.d, gi * bs, inv, 0);
    out.nz[gi] = 1;
  }
  for (let i = 0; i < nh; i++)
    for (let j = 0; j < np; j++) {
      const hij = 1 + np + i * np + j;
      if (X.nz[hij]) {
        sandwich(hij, X.d, hij * bs, inv, 0);
        out.nz[hij] = 1;
      }
      if (out.nz[1 + j] && X.nz[1 + i]) {
        sandwich(hij, X.d, (1 + i) * bs, out.d, (1 + j) * bs);
        out.nz[hij] = 1;
      }
      if (out.nz[1 + i] && X.nz[1 + j]) {
        sandwich(hij, X.d, (1 + j) * bs, out.d, (1 + i) * bs);
        out.nz[hij] = 1;
      }
    }
}

/**
 * Compose a scalar jet with a smooth scalar function: s = f(u), given f(u₀), f′(u₀), f″(u₀).
 * s_i = f′ u_i; s_ij = f′ u_ij + f″ u_i u_j.
 */
export function jcompose(
  S: JetSpace,
  u: Float64Array,
  f0: number,
  f1: number,
  f2: number,
  out = new Float64Array(S.nb),
): Float64Array {
  const { np, nh } = S;
  out[0] = f0;
  for (let i = 0; i < np; i++) out[1 + i] = f1 * u[1 + i];
  for (let i = 0; i < nh; i++)
    for (let j = 0; j < np; j++) {
      const hij = 1 + np + i * np + j;
      out[hij] = f1 * u[hij] + f2 * u[1 + i] * u[1 + j];
    }
  return out;
}
