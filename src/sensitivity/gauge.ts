/**
 * The gauge-fixed implicit-function solve shared by the tabular estimators (DESIGN §4.3):
 * dφ/dθ = −J_φ⁻¹ J_θ on the rows/columns with b ≥ 1 (φ[s,0] = 0), then centred per state.
 * States with no data (`visited[s] = false`) get zero sensitivity instead of a singular system.
 */
import { Lu } from "../math/linalg.ts";
import { centreColumnsPerState } from "./tabular-exact.ts";

export function gaugeFixedSolve(
  Jphi: Float64Array,
  Jtheta: Float64Array,
  S: number,
  A: number,
  nth: number,
  visited?: ArrayLike<boolean>,
): Float64Array {
  const n = S * A;
  const out = new Float64Array(n * nth);
  if (A === 1) return out;
  const idx: number[] = [];
  for (let s = 0; s < S; s++) for (let b = 1; b < A; b++) idx.push(s * A + b);
  const m = idx.length;
  const Jr = new Float64Array(m * m);
  const rhs = new Float64Array(m * nth);
  for (let i = 0; i < m; i++) {
    const si = Math.floor(idx[i] / A);
    if (visited && !visited[si]) {
      Jr[i * m + i] = 1;
      continue;
    }
    for (let j = 0; j < m; j++) Jr[i * m + j] = Jphi[idx[i] * n + idx[j]];
    for (let c = 0; c < nth; c++) rhs[i * nth + c] = -Jtheta[idx[i] * nth + c];
  }
  const X = new Lu(Jr, m).solve(rhs, nth);
  for (let i = 0; i < m; i++) out.set(X.subarray(i * nth, (i + 1) * nth), idx[i] * nth);
  return centreColumnsPerState(out, S, A, nth);
}
