/**
 * Theorem 1 of the bi-level paper, exact, for tabular softmax policies and the tabular simulator
 * f_θ = softmax(θ^f), R_θ = θ^R — with the corrections of DESIGN §4:
 *
 *  φ̂(φ, θ) = Σ_{s,a} d(s) π(a|s) ∇_φ log π(a|s) Q̃(s,a),   Q̃ = Q_soft − τ log π          (6), §4.2
 *  J_φ = ∂φ̂/∂φ = T_A + T_B + T_C,   J_θ = ∂φ̂/∂θ = T_D + T_E,   dφ/dθ = −J_φ⁻¹ J_θ           (12), §4.4
 *    T_A = E[∇²_φ log π Q̃]                     policy Hessian
 *    T_B = E[∇_φ log π ⊗ ∇_φ Q̃]                critic sensitivity (14), with the extra −τ ∇_φ log π
 *    T_C = ∇_φ E_ρ̂[·] (π held in Q̃)           Markov-chain term (15)
 *    T_D = E[∇_φ log π ⊗ ∇_θ Q̃]                critic sensitivity (13)
 *    T_E = ∇_θ E_ρ̂[·]                          Markov-chain term (16)
 *  Gauge (§4.3): J_φ is singular along per-state constants; we fix φ[s,0] = 0, solve the square
 *  reduced system, then centre per state.
 *
 * Notation: w(s,a) = d(s)π(a|s); M = I − γPΠ (nSA×nSA) with M⁻¹ = I + γ P N Π and N = (I − γP_π)⁻¹
 * (S×S), so no (S·A)-sized system is ever factorised. B = ∂R/∂θ + γ (∂P/∂θ) V: column θ^f_{s,a,x}
 * has the single entry β(s,a,x) = γ f(x|s,a)(V(x) − Σ_y f(y|s,a)V(y)) in row (s,a); column θ^R_{s,a}
 * is e_{(s,a)}. This sparsity makes a full Jacobian O(nφ·nθ) after the solves.
 */
import { actionResolvent, denseInverse, evaluatePolicy, type PolicyEvaluation } from "../critics/tabular.ts";
import type { TabularMDP } from "../envs/tabular.ts";
import { axpyAt, Lu } from "../math/linalg.ts";
import { centreRows } from "../math/softmax.ts";

export interface SensitivityInput {
  /** The simulator at θ. */
  readonly sim: TabularMDP;
  /** The in-sim policy (need not be optimal for the T-terms; must be for dφ/dθ to mean anything). */
  readonly pi: Float64Array;
  readonly logPi: Float64Array;
  readonly tau: number;
  /** Optional precomputed evaluation of π on `sim` at temperature τ. */
  readonly evaluation?: PolicyEvaluation;
}

/** Shared intermediate quantities, all O(nSA·S) or O(S³) to form. */
interface Pieces {
  S: number;
  A: number;
  n: number; // S·A
  gamma: number;
  tau: number;
  P: Float64Array;
  pi: Float64Array;
  ev: PolicyEvaluation;
  /** w(s,a) = d(s) π(a|s). */
  w: Float64Array;
  /** k(s,b) = π(b|s)(Q̃(s,b) − V(s)): the only non-zero of K[·, s] = Σ_a π g Q̃ in block s. */
  k: Float64Array;
  /** N = (I − γ P_π)⁻¹, dense S×S. */
  N: Float64Array;
  /** β(s,a,x), layout of θ^f. */
  beta: Float64Array;
}

function pieces(inp: SensitivityInput): Pieces {
  const { sim, pi, logPi, tau } = inp;
  const { S, A, gamma, P } = sim;
  const n = S * A;
  const ev = inp.evaluation ?? evaluatePolicy(sim, pi, logPi, tau);
  const { d, Qt, V, PV } = ev;
  const w = new Float64Array(n);
  const k = new Float64Array(n);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      w[s * A + a] = d[s] * pi[s * A + a];
      k[s * A + a] = pi[s * A + a] * (Qt[s * A + a] - V[s]);
    }
  const N = denseInverse(ev.lu);
  const beta = new Float64Array(n * S);
  for (let sa = 0; sa < n; sa++)
    for (let x = 0; x < S; x++) beta[sa * S + x] = gamma * P[sa * S + x] * (V[x] - PV[sa]);
  return { S, A, n, gamma, tau, P, pi, ev, w, k, N, beta };
}

/** E = Gᵀ D_w P N (nφ×S) and Gᵀ D_w P (nφ×S). Row (s,b) of Gᵀ D_w P is w(s,b)P(s,b,·) − π(b|s) d(s) P_π(s,·). */
function gtDwP(p: Pieces): { GDP: Float64Array; E: Float64Array } {
  const { S, A, n, P, pi, w, N, ev } = p;
  const { d, Ppi } = ev;
  const GDP = new Float64Array(n * S);
  for (let s = 0; s < S; s++)
    for (let b = 0; b < A; b++) {
      const j = s * A + b;
      for (let x = 0; x < S; x++) GDP[j * S + x] = w[j] * P[j * S + x] - pi[j] * d[s] * Ppi[s * S + x];
    }
  const E = new Float64Array(n * S);
  for (let j = 0; j < n; j++)
    for (let y = 0; y < S; y++) {
      let acc = 0;
      for (let x = 0; x < S; x++) acc += GDP[j * S + x] * N[x * S + y];
      E[j * S + y] = acc;
    }
  return { GDP, E };
}

/** C1 = Gᵀ D_w M⁻¹ (nφ×nSA): C1[j,(s',a')] = (Gᵀ D_w)[j,(s',a')] + γ E[j,s'] π(a'|s'). */
function c1Matrix(p: Pieces, E: Float64Array): Float64Array {
  const { S, A, n, gamma, pi, w } = p;
  const C1 = new Float64Array(n * n);
  for (let j = 0; j < n; j++)
    for (let s2 = 0; s2 < S; s2++) {
      const e = gamma * E[j * S + s2];
      for (let a2 = 0; a2 < A; a2++) C1[j * n + s2 * A + a2] = e * pi[s2 * A + a2];
    }
  // Gᵀ D_w: entry [(s,b),(s,a)] = (δ_ab − π(b|s)) w(s,a).
  for (let s = 0; s < S; s++)
    for (let b = 0; b < A; b++)
      for (let a = 0; a < A; a++)
        C1[(s * A + b) * n + s * A + a] += ((a === b ? 1 : 0) - pi[s * A + b]) * w[s * A + a];
  return C1;
}

export interface Theorem1Terms {
  /** nφ×nφ, row-major. */
  TA: Float64Array;
  TB: Float64Array;
  TC: Float64Array;
  /** nφ×nθ, row-major. */
  TD: Float64Array;
  TE: Float64Array;
  /** φ̂ itself (nφ), for checks. */
  phiHat: Float64Array;
}

/** J_φ = T_A + T_B + T_C as separate dense matrices (nφ×nφ). */
function phiTerms(p: Pieces, GDP: Float64Array, E: Float64Array) {
  const { S, A, n, gamma, tau, pi, w, k, ev, N } = p;
  const { d, V, Qt, Ppi } = ev;
  const TA = new Float64Array(n * n);
  const TB = new Float64Array(n * n);
  const TC = new Float64Array(n * n);
  for (let s = 0; s < S; s++) {
    const dV = d[s] * V[s];
    for (let b = 0; b < A; b++)
      for (let c = 0; c < A; c++) {
        const pb = pi[s * A + b];
        const pc = pi[s * A + c];
        const F = (b === c ? pb : 0) - pb * pc; // Fisher block diag π − π πᵀ
        const row = (s * A + b) * n + s * A + c;
        // T_A: Σ_a w Q̃ ∇² log π = −d(s) V(s) F_s   (Σ_a π Q̃ = V).
        TA[row] = -dV * F;
        // T_B, first part: −τ Gᵀ D_w G = −τ d(s) F_s   (Π G = 0).
        TB[row] = -tau * d[s] * F;
        // T_C, second part: Σ_a w Q̃ g gᵀ.
        let acc = 0;
        for (let a = 0; a < A; a++)
          acc += w[s * A + a] * Qt[s * A + a] * ((a === b ? 1 : 0) - pb) * ((a === c ? 1 : 0) - pc);
        TC[row] = acc;
      }
  }
  // T_B, second part: γ (C1 P) Kᵀ with C1 P = Gᵀ D_w P + γ E P_π; (Kᵀ)[s', (s',b')] = k(s',b').
  const C1P = new Float64Array(n * S);
  for (let j = 0; j < n; j++)
    for (let x = 0; x < S; x++) {
      let acc = GDP[j * S + x];
      for (let y = 0; y < S; y++) acc += gamma * E[j * S + y] * Ppi[y * S + x];
      C1P[j * S + x] = acc;
    }
  for (let j = 0; j < n; j++)
    for (let l = 0; l < n; l++) TB[j * n + l] += gamma * C1P[j * S + Math.floor(l / A)] * k[l];
  // T_C, first part: K ∂d/∂φ with ∂d/∂φ = γ Nᵀ Pᵀ D_w G; (Pᵀ D_w G)[x,(s,b)] = GDP[(s,b),x].
  const dd = new Float64Array(S * n); // ∂d(s'')/∂φ_l
  for (let s2 = 0; s2 < S; s2++)
    for (let l = 0; l < n; l++) {
      let acc = 0;
      for (let x = 0; x < S; x++) acc += N[x * S + s2] * GDP[l * S + x];
      dd[s2 * n + l] = gamma * acc;
    }
  for (let j = 0; j < n; j++) {
    const s2 = Math.floor(j / A);
    for (let l = 0; l < n; l++) TC[j * n + l] += k[j] * dd[s2 * n + l];
  }
  return { TA, TB, TC };
}

/** The five Theorem-1 terms as dense matrices (for inspection and tests; nθ = S·A·S + S·A). */
export function theorem1Terms(inp: SensitivityInput): Theorem1Terms {
  const p = pieces(inp);
  const { S, A, n, gamma, w, k, N, beta, P } = p;
  const { GDP, E } = gtDwP(p);
  const { TA, TB, TC } = phiTerms(p, GDP, E);
  const C1 = c1Matrix(p, E);
  const nf = n * S;
  const nth = nf + n;
  const TD = new Float64Array(n * nth);
  const TE = new Float64Array(n * nth);
  for (let j = 0; j < n; j++) {
    const s2 = Math.floor(j / A);
    for (let sa = 0; sa < n; sa++) {
      const c = C1[j * n + sa];
      let zf = 0; // (Z f_sa)[j], Z = K Nᵀ: Z[j,y] = k_j N[y, s2]
      for (let y = 0; y < S; y++) zf += k[j] * N[y * S + s2] * P[sa * S + y];
      for (let x = 0; x < S; x++) {
        TD[j * nth + sa * S + x] = c * beta[sa * S + x];
        TE[j * nth + sa * S + x] = gamma * w[sa] * P[sa * S + x] * (k[j] * N[x * S + s2] - zf);
      }
      TD[j * nth + nf + sa] = c;
    }
  }
  const phiHat = new Float64Array(n);
  for (let s = 0; s < S; s++) for (let b = 0; b < A; b++) phiHat[s * A + b] = p.ev.d[s] * k[s * A + b];
  return { TA, TB, TC, TD, TE, phiHat };
}

/** Indices kept by the gauge fix φ[s,0] = 0. */
function reducedIndex(S: number, A: number): Int32Array {
  const idx = new Int32Array(S * (A - 1));
  let t = 0;
  for (let s = 0; s < S; s++) for (let b = 1; b < A; b++) idx[t++] = s * A + b;
  return idx;
}

/**
 * dφ/dθ by the implicit function theorem on the matrix-form Theorem 1 (gauge φ[s,0] = 0, then centred
 * per state). Returns the (S·A)×nθ Jacobian, row-major. Valid at an in-sim optimum.
 */
export function iftSensitivity(inp: SensitivityInput): Float64Array {
  const p = pieces(inp);
  const { S, A, n, gamma, w, k, N, beta, P } = p;
  const nf = n * S;
  const nth = nf + n;
  const out = new Float64Array(n * nth);
  if (A === 1) return out; // no policy freedom at all
  const { GDP, E } = gtDwP(p);
  const { TA, TB, TC } = phiTerms(p, GDP, E);
  const C1 = c1Matrix(p, E);
  const idx = reducedIndex(S, A);
  const m = idx.length;
  const Jr = new Float64Array(m * m);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      const q = idx[i] * n + idx[j];
      Jr[i * m + j] = TA[q] + TB[q] + TC[q];
    }
  // Right-hand sides: [C1 | Z] restricted to reduced rows; Z[j,y] = k_j N[y, s(j)].
  const cols = n + S;
  const rhs = new Float64Array(m * cols);
  for (let i = 0; i < m; i++) {
    const j = idx[i];
    const s2 = Math.floor(j / A);
    for (let c = 0; c < n; c++) rhs[i * cols + c] = -C1[j * n + c];
    for (let y = 0; y < S; y++) rhs[i * cols + n + y] = -k[j] * N[y * S + s2];
  }
  const Y = new Lu(Jr, m).solve(rhs, cols); // Y = −J_φ⁻¹ [C1 | Z]
  const yf = new Float64Array(m);
  for (let sa = 0; sa < n; sa++) {
    // (Y2 f_sa) for every reduced row
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let y = 0; y < S; y++) acc += Y[i * cols + n + y] * P[sa * S + y];
      yf[i] = acc;
    }
    for (let i = 0; i < m; i++) {
      const row = idx[i] * nth;
      const y1 = Y[i * cols + sa];
      for (let x = 0; x < S; x++)
        out[row + sa * S + x] =
          y1 * beta[sa * S + x] + gamma * w[sa] * P[sa * S + x] * (Y[i * cols + n + x] - yf[i]);
      out[row + nf + sa] = y1;
    }
  }
  return centreColumnsPerState(out, S, A, nth);
}

/** Centre each column of an (S·A)×cols matrix within every state block (the centred gauge). */
export function centreColumnsPerState(J: Float64Array, S: number, A: number, cols: number): Float64Array {
  for (let s = 0; s < S; s++)
    for (let c = 0; c < cols; c++) {
      let m = 0;
      for (let a = 0; a < A; a++) m += J[(s * A + a) * cols + c];
      m /= A;
      for (let a = 0; a < A; a++) J[(s * A + a) * cols + c] -= m;
    }
  return J;
}

/**
 * Tabular closed form at the soft optimum (DESIGN §4.5): dφ/dθ = (1/τ) centre(∂Q_soft/∂θ | π fixed)
 * = (1/τ) centre(M⁻¹ B).
 */
export function closedFormSensitivity(inp: SensitivityInput): Float64Array {
  const p = pieces(inp);
  const { S, A, n, tau, beta } = p;
  const Mi = centreRows(transpose(actionResolvent(S, A, p.gamma, p.P, p.pi, p.N), n, n), A); // rows = columns of M⁻¹, centred per state
  const nf = n * S;
  const nth = nf + n;
  const out = new Float64Array(n * nth);
  for (let sa = 0; sa < n; sa++)
    for (let i = 0; i < n; i++) {
      const m = Mi[sa * n + i] / tau;
      for (let x = 0; x < S; x++) out[i * nth + sa * S + x] = m * beta[sa * S + x];
      out[i * nth + nf + sa] = m;
    }
  return out;
}

/**
 * Adjoint outer gradient at the soft optimum (DESIGN §4.5): (dφ/dθ)ᵀ v = Bᵀ M⁻ᵀ centre(v)/τ with
 * M⁻ᵀ = I + γ Πᵀ Nᵀ Pᵀ: one S×S solve, never the Jacobian.
 */
export function adjointOuterGradient(inp: SensitivityInput, v: ArrayLike<number>): Float64Array {
  const { sim, pi, tau } = inp;
  const { S, A, gamma, P } = sim;
  const n = S * A;
  const ev = inp.evaluation ?? evaluatePolicy(sim, pi, inp.logPi, tau);
  // Locals, not ev.* loads, in the O(S²A) loops below.
  const { V, PV } = ev;
  const c = centreRows(v, A);
  for (let i = 0; i < n; i++) c[i] /= tau;
  const Ptc = new Float64Array(S);
  for (let i = 0; i < n; i++) axpyAt(c[i], P, i * S, Ptc, 0, S);
  const z = ev.lu.solveTransposed(Ptc);
  const nf = n * S;
  const grad = new Float64Array(nf + n);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const sa = s * A + a;
      const u = c[sa] + gamma * pi[sa] * z[s];
      // β(s,a,x) u with β = γ f(x|s,a)(V(x) − (P V)(s,a)); P V is the evaluation's own.
      const off = sa * S;
      const fv = PV[sa];
      for (let x = 0; x < S; x++) grad[off + x] = gamma * P[off + x] * (V[x] - fv) * u;
      grad[nf + sa] = u;
    }
  return grad;
}

/** (dφ/dθ)ᵀ v for a dense (S·A)×nθ Jacobian. */
export function jacobianTransposeTimes(J: Float64Array, v: ArrayLike<number>, cols: number): Float64Array {
  const g = new Float64Array(cols);
  const rows = J.length / cols;
  for (let i = 0; i < rows; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    for (let c = 0; c < cols; c++) g[c] += J[i * cols + c] * vi;
  }
  return g;
}

function transpose(a: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}
