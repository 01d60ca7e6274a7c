/** Numerically stable softmax helpers over contiguous blocks of a flat array. */

/** log Σ exp(x[off..off+n)). */
export function logSumExp(x: ArrayLike<number>, off: number, n: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (x[off + i] > m) m = x[off + i];
  if (m === Number.NEGATIVE_INFINITY) return m;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
  return m + Math.log(s);
}

/** Row-wise log-softmax of `x` viewed as rows of length n (x/scale when scale is given). */
export function logSoftmaxRows(x: ArrayLike<number>, n: number, scale = 1, out?: Float64Array): Float64Array {
  const rows = x.length / n;
  const res = out ?? new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const off = r * n;
    // x/scale once per entry (kept in res), not once per pass.
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = x[off + i] / scale;
      res[off + i] = v;
      if (v > m) m = v;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(res[off + i] - m);
    const lse = m + Math.log(s);
    for (let i = 0; i < n; i++) res[off + i] -= lse;
  }
  return res;
}

/** Subtract the mean of each row of length n (the gauge used for logits: centred per state). */
export function centreRows(x: ArrayLike<number>, n: number, out?: Float64Array): Float64Array {
  const res = out ?? new Float64Array(x.length);
  for (let off = 0; off < x.length; off += n) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[off + i];
    m /= n;
    for (let i = 0; i < n; i++) res[off + i] = x[off + i] - m;
  }
  return res;
}
