/**
 * End-to-end tests of the `sim2real` command line (spawned as `node bin/sim2real.mjs ...`):
 *  1. bad input exits 2 with one clear `sim2real: ...` message and no stack trace;
 *  2. `gradient --json` against an independent, dense reference implementation written here
 *     (soft value iteration, explicit M⁻¹B sensitivity, policy-gradient-theorem real gradient), itself
 *     checked against central finite differences of θ ↦ J_real(softmax(φ*(θ)));
 *  3. `check --json` on the paper's problem;
 *  4. determinism of seeded sampled gradients and of `run`, and the files `run` writes.
 *
 * Only `loadTabularProblem` is used from `src/` (to read problem files); everything numeric below is
 * computed independently of the product's code.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { inverse, Matrix, solve } from "ml-matrix";
import type { TabularProblem } from "../src/envs/tabular.ts";
import { loadTabularProblem } from "../src/envs/tabular-problem.ts";
import { type CliResult, cli, pool, root, show } from "./cli-helpers.ts";

const BAD_DIR = "test/fixtures/bad";
const GOOD_DIR = "test/fixtures/good";
const EXAMPLE = "examples/paper-discrete.json";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-cli-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------------------
// Spawning the CLI (test/cli-helpers.ts)

/** Bad input: exit 2, a non-empty message, no stack trace and no error class dumps. */
function assertBadInput(r: CliResult): void {
  assert.equal(r.status, 2, show(r));
  assert.ok(r.stderr.trim().length > 0, `empty stderr\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace on stderr\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\b[A-Z]\w*Error\b/, `error class name on stderr\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\bnode:internal\b|\.ts:\d+/, `source locations on stderr\n${show(r)}`);
}

// ---------------------------------------------------------------------------------------------------------
// 1. Bad input

const badFiles = readdirSync(join(root, BAD_DIR))
  .filter((f) => f.endsWith(".json"))
  .sort();

test("bad problem files: gradient and check exit 2 with one `sim2real:` message naming the file", async () => {
  assert.ok(badFiles.length > 0, "no bad fixtures found");
  const jobs = badFiles.flatMap((f) => {
    const path = `${BAD_DIR}/${f}`;
    return [
      { path, args: ["gradient", "--problem", path, "--json"] },
      { path, args: ["check", "--problem", path] },
    ];
  });
  const results = await pool(jobs, (j) => cli(j.args));
  jobs.forEach((j, i) => {
    const r = results[i];
    assertBadInput(r);
    assert.ok(r.stderr.startsWith("sim2real:"), `stderr should start with 'sim2real:'\n${show(r)}`);
    assert.ok(r.stderr.includes(j.path), `stderr should name ${j.path}\n${show(r)}`);
    assert.equal(r.stdout, "", `nothing on stdout\n${show(r)}`);
  });
});

test("usage errors exit 2 without a stack; --help exits 0 and lists the options", async () => {
  const missing = join(scratch, "does-not-exist.json");
  const cases: { name: string; args: string[]; check?: (r: CliResult) => void }[] = [
    {
      name: "missing file (gradient)",
      args: ["gradient", "--problem", missing, "--json"],
      check: (r) => {
        assert.ok(r.stderr.startsWith("sim2real:"), show(r));
        assert.match(r.stderr, /ENOENT/, show(r));
        assert.ok(r.stderr.includes(missing), show(r));
      },
    },
    {
      name: "missing file (check)",
      args: ["check", "--problem", missing],
      check: (r) => assert.match(r.stderr, /ENOENT/, show(r)),
    },
    {
      name: "unknown experiment",
      args: ["run", "nope", "--quiet", "--out", join(scratch, "nope")],
      check: (r) => assert.match(r.stderr, /nope/, show(r)),
    },
    {
      name: "invalid --method",
      args: ["gradient", "--problem", EXAMPLE, "--method", "nope"],
      check: (r) => assert.match(r.stderr, /nope/, show(r)),
    },
    { name: "invalid --objective", args: ["gradient", "--problem", EXAMPLE, "--objective", "median"] },
    {
      name: "garbage --seed",
      args: ["gradient", "--problem", EXAMPLE, "--seed", "abc"],
      check: (r) => assert.match(r.stderr, /seed/, show(r)),
    },
    { name: "negative --seed", args: ["gradient", "--problem", EXAMPLE, "--seed", "-3"] },
    { name: "fractional --seed", args: ["gradient", "--problem", EXAMPLE, "--seed", "1.5"] },
    { name: "garbage --step (check)", args: ["check", "--problem", EXAMPLE, "--step", "0"] },
    { name: "unknown option", args: ["gradient", "--problem", EXAMPLE, "--no-such-option"] },
    { name: "missing required --problem", args: ["gradient", "--json"] },
    { name: "unknown command", args: ["frobnicate"] },
  ];
  const helps = [["--help"], ["gradient", "--help"]];
  const results = await pool([...cases.map((c) => c.args), ...helps], cli);
  cases.forEach((c, i) => {
    const r = results[i];
    assertBadInput(r);
    c.check?.(r);
  });
  const [top, grad] = results.slice(cases.length);
  for (const r of [top, grad]) {
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /Usage: sim2real/, show(r));
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /^\s+at /m, show(r));
  }
  for (const cmd of ["gradient", "check", "run"])
    assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`), show(top));
  for (const opt of ["--problem", "--objective", "--method", "--real-gradient", "--seed", "--json"])
    assert.ok(grad.stdout.includes(opt), `gradient --help should mention ${opt}\n${show(grad)}`);
  for (const m of ["exact", "closed-form", "adjoint", "sampled"])
    assert.ok(grad.stdout.includes(m), `gradient --help should list method ${m}\n${show(grad)}`);
});

// ---------------------------------------------------------------------------------------------------------
// 2. Independent reference implementation (dense, straightforward)

/** A tabular MDP in flat layout: P[(s*A + a)*S + x], R[s*A + a]. */
interface Mdp {
  readonly S: number;
  readonly A: number;
  readonly gamma: number;
  readonly mu: Float64Array;
  readonly P: Float64Array;
  readonly R: Float64Array;
}

interface Policy {
  /** Q/τ centred per state (soft) — the logits the product reports. */
  readonly phi: Float64Array;
  readonly pi: Float64Array;
  readonly logPi: Float64Array;
}

/** f(·|s,a) = softmax(θ^f_{s,a}), R = θ^R, θ = [θ^f (s,a,s') row-major, θ^R (s,a) row-major]. */
function simulatorAt(p: TabularProblem, theta: ArrayLike<number>): Mdp {
  const { S, A } = p;
  const nf = S * A * S;
  const P = new Float64Array(nf);
  for (let sa = 0; sa < S * A; sa++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let x = 0; x < S; x++) m = Math.max(m, theta[sa * S + x]);
    let z = 0;
    for (let x = 0; x < S; x++) z += Math.exp(theta[sa * S + x] - m);
    for (let x = 0; x < S; x++) P[sa * S + x] = Math.exp(theta[sa * S + x] - m) / z;
  }
  const R = new Float64Array(S * A);
  for (let i = 0; i < S * A; i++) R[i] = theta[nf + i];
  return { S, A, gamma: p.gamma, mu: p.mu, P, R };
}

const realOf = (p: TabularProblem): Mdp => ({
  S: p.S,
  A: p.A,
  gamma: p.gamma,
  mu: p.mu,
  P: p.real.P,
  R: p.real.R,
});

const VI_TOL = 1e-14;
const VI_MAX_ITER = 1_000_000;

/** Q = R + γ P V. */
function qFromV(m: Mdp, V: Float64Array): Float64Array {
  const { S, A, gamma, P, R } = m;
  const Q = new Float64Array(S * A);
  for (let sa = 0; sa < S * A; sa++) {
    let ev = 0;
    for (let x = 0; x < S; x++) ev += P[sa * S + x] * V[x];
    Q[sa] = R[sa] + gamma * ev;
  }
  return Q;
}

/**
 * Value iteration, V ← backup(R + γ P V), until max|ΔV| < 1e-14 · max(1, ‖V‖∞) (a purely absolute 1e-14
 * is below one ulp when |V| ≳ 50). `tau > 0`: soft backup τ log Σ_a exp(Q/τ); `tau = 0`: max_a Q.
 */
function valueIteration(m: Mdp, tau: number, V0?: Float64Array): { V: Float64Array; Q: Float64Array } {
  const { S, A } = m;
  let V = V0 ? Float64Array.from(V0) : new Float64Array(S);
  for (let it = 0; it < VI_MAX_ITER; it++) {
    const Q = qFromV(m, V);
    const W = new Float64Array(S);
    let change = 0;
    let scale = 1;
    for (let s = 0; s < S; s++) {
      let mx = Number.NEGATIVE_INFINITY;
      for (let a = 0; a < A; a++) mx = Math.max(mx, Q[s * A + a]);
      if (tau > 0) {
        let z = 0;
        for (let a = 0; a < A; a++) z += Math.exp((Q[s * A + a] - mx) / tau);
        W[s] = mx + tau * Math.log(z);
      } else W[s] = mx;
      change = Math.max(change, Math.abs(W[s] - V[s]));
      scale = Math.max(scale, Math.abs(W[s]));
    }
    V = W;
    if (change < VI_TOL * scale) return { V, Q: qFromV(m, V) };
  }
  throw new Error(`value iteration did not converge in ${VI_MAX_ITER} iterations`);
}

/** π = softmax(Q/τ); φ = Q/τ centred per state. */
function softPolicy(Q: Float64Array, tau: number, S: number, A: number): Policy {
  const phi = new Float64Array(S * A);
  const pi = new Float64Array(S * A);
  const logPi = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    let mean = 0;
    for (let a = 0; a < A; a++) mean += Q[s * A + a] / tau / A;
    let mx = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < A; a++) {
      phi[s * A + a] = Q[s * A + a] / tau - mean;
      mx = Math.max(mx, phi[s * A + a]);
    }
    let z = 0;
    for (let a = 0; a < A; a++) z += Math.exp(phi[s * A + a] - mx);
    const lse = mx + Math.log(z);
    for (let a = 0; a < A; a++) {
      logPi[s * A + a] = phi[s * A + a] - lse;
      pi[s * A + a] = Math.exp(logPi[s * A + a]);
    }
  }
  return { phi, pi, logPi };
}

const uniformPolicy = (S: number, A: number): Policy => ({
  phi: new Float64Array(S * A),
  pi: new Float64Array(S * A).fill(1 / A),
  logPi: new Float64Array(S * A).fill(-Math.log(A)),
});

/** Deterministic greedy policy of a Q (ties to the lowest action); logits are irrelevant at τ = 0. */
function greedyPolicy(Q: Float64Array, S: number, A: number): Policy {
  const pi = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    let best = 0;
    for (let a = 1; a < A; a++) if (Q[s * A + a] > Q[s * A + best]) best = a;
    pi[s * A + best] = 1;
  }
  return { phi: new Float64Array(S * A), pi, logPi: new Float64Array(S * A) };
}

interface Evaluation {
  /** V solving V = Σ_a π (r − τ log π) + γ P_π V. */
  readonly V: Float64Array;
  /** Q̃(s,a) = r − τ log π(a|s) + γ Σ P V. */
  readonly Qt: Float64Array;
  readonly J: number;
  /** I − γ P_π. */
  readonly IminusGammaPpi: Matrix;
}

/** Exact policy evaluation by a linear solve (τ = 0: the plain return). */
function evaluate(m: Mdp, pol: Policy, tauObj: number): Evaluation {
  const { S, A, gamma, P, R, mu } = m;
  const Ppi = Matrix.zeros(S, S);
  const r = Matrix.zeros(S, 1);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const sa = s * A + a;
      const w = pol.pi[sa];
      if (w === 0) continue;
      r.set(s, 0, r.get(s, 0) + w * (R[sa] - (tauObj === 0 ? 0 : tauObj * pol.logPi[sa])));
      for (let x = 0; x < S; x++) Ppi.set(s, x, Ppi.get(s, x) + w * P[sa * S + x]);
    }
  const IminusGammaPpi = Matrix.sub(Matrix.eye(S), Ppi.mul(gamma));
  const V = Float64Array.from(solve(IminusGammaPpi, r).getColumn(0));
  const Qt = qFromV(m, V);
  if (tauObj !== 0) for (let sa = 0; sa < S * A; sa++) Qt[sa] -= tauObj * pol.logPi[sa];
  let J = 0;
  for (let s = 0; s < S; s++) J += mu[s] * V[s];
  return { V, Qt, J, IminusGammaPpi };
}

/**
 * dφ/dθ = (1/τ) centre_per_state(M⁻¹ B), M = I − γ PΠ, B = ∂R/∂θ + γ (∂P/∂θ) V, at the soft optimum
 * (V = soft value of the simulator). Dense, nSA × nθ.
 */
function sensitivity(sim: Mdp, pol: Policy, V: Float64Array, tau: number): Matrix {
  const { S, A, gamma, P } = sim;
  const n = S * A;
  const nf = n * S;
  const nth = nf + n;
  const M = Matrix.eye(n, n);
  for (let sa = 0; sa < n; sa++)
    for (let x = 0; x < S; x++)
      for (let b = 0; b < A; b++)
        M.set(sa, x * A + b, M.get(sa, x * A + b) - gamma * P[sa * S + x] * pol.pi[x * A + b]);
  const B = Matrix.zeros(n, nth);
  for (let sa = 0; sa < n; sa++) {
    let ev = 0;
    for (let y = 0; y < S; y++) ev += P[sa * S + y] * V[y];
    // ∂/∂θ^f_{s,a,x} Σ_y f(y|s,a) V(y) = Σ_y f(y)(δ_xy − f(x)) V(y) = f(x)(V(x) − E_f V)
    for (let x = 0; x < S; x++) B.set(sa, sa * S + x, gamma * P[sa * S + x] * (V[x] - ev));
    B.set(sa, nf + sa, 1);
  }
  const X = inverse(M).mmul(B);
  for (let s = 0; s < S; s++)
    for (let c = 0; c < nth; c++) {
      let mean = 0;
      for (let a = 0; a < A; a++) mean += X.get(s * A + a, c) / A;
      for (let a = 0; a < A; a++) X.set(s * A + a, c, (X.get(s * A + a, c) - mean) / tau);
    }
  return X;
}

/** v_{s,b} = ∂J_real/∂φ_{s,b} = d(s) π(b|s) (Q̃(s,b) − V(s)), d = (I − γ P_πᵀ)⁻¹ μ. */
function realPolicyGradient(real: Mdp, pol: Policy, tauObj: number): Float64Array {
  const { S, A, mu } = real;
  const ev = evaluate(real, pol, tauObj);
  const d = solve(ev.IminusGammaPpi.transpose(), Matrix.columnVector(Array.from(mu))).getColumn(0);
  const v = new Float64Array(S * A);
  for (let s = 0; s < S; s++)
    for (let b = 0; b < A; b++) v[s * A + b] = d[s] * pol.pi[s * A + b] * (ev.Qt[s * A + b] - ev.V[s]);
  return v;
}

type Objective = "soft" | "hard";
const OBJECTIVES: readonly Objective[] = ["soft", "hard"];
const objectiveTau = (p: TabularProblem, o: Objective): number => (o === "soft" ? p.temperature : 0);

interface Normaliser {
  readonly optimum: number;
  readonly uniform: number;
}

/** J(π*) and J(uniform) on the real MDP: soft π* by soft VI, hard π* greedy in the VI (max) optimum. */
function normaliser(p: TabularProblem, o: Objective): Normaliser {
  const real = realOf(p);
  const tau = objectiveTau(p, o);
  const star =
    o === "soft"
      ? softPolicy(valueIteration(real, tau).Q, tau, p.S, p.A)
      : greedyPolicy(valueIteration(real, 0).Q, p.S, p.A);
  return { optimum: evaluate(real, star, tau).J, uniform: evaluate(real, uniformPolicy(p.S, p.A), tau).J };
}

interface Reference {
  readonly phi: number[][];
  readonly policy: number[][];
  readonly dPhiDTheta: number[][];
  readonly realReturn: Record<Objective, number>;
  /** `null` when J(π*) = J(uniform) (every policy is optimal, e.g. one action). */
  readonly normalizedReturn: Record<Objective, number | null>;
  readonly outerGradient: Record<Objective, number[]>;
  /** Soft value of the simulator at θ0 (warm start for finite differences). */
  readonly simV: Float64Array;
}

const toRows = (a: ArrayLike<number>, cols: number): number[][] =>
  Array.from({ length: a.length / cols }, (_, i) => Array.from(a).slice(i * cols, (i + 1) * cols));

function reference(p: TabularProblem): Reference {
  const { S, A, temperature: tau } = p;
  const sim = simulatorAt(p, p.theta0);
  const real = realOf(p);
  const { V, Q } = valueIteration(sim, tau);
  const pol = softPolicy(Q, tau, S, A);
  const dPhi = sensitivity(sim, pol, V, tau);
  const realReturn = {} as Record<Objective, number>;
  const normalizedReturn = {} as Record<Objective, number | null>;
  const outerGradient = {} as Record<Objective, number[]>;
  for (const o of OBJECTIVES) {
    const t = objectiveTau(p, o);
    const J = evaluate(real, pol, t).J;
    const nz = normaliser(p, o);
    realReturn[o] = J;
    normalizedReturn[o] =
      Math.abs(nz.optimum - nz.uniform) <= 1e-12 * Math.max(1, Math.abs(nz.optimum))
        ? null
        : (J - nz.uniform) / (nz.optimum - nz.uniform);
    const v = realPolicyGradient(real, pol, t);
    outerGradient[o] = dPhi
      .transpose()
      .mmul(Matrix.columnVector(Array.from(v)))
      .getColumn(0);
  }
  return {
    phi: toRows(pol.phi, A),
    policy: toRows(pol.pi, A),
    dPhiDTheta: dPhi.to2DArray(),
    realReturn,
    normalizedReturn,
    outerGradient,
    simV: V,
  };
}

/** θ ↦ J_real(softmax(φ*(θ))) for both objectives, φ* by soft value iteration (warm-started). */
function realReturnsAt(
  p: TabularProblem,
  theta: Float64Array,
  warm: Float64Array,
): Record<Objective, number> {
  const { Q } = valueIteration(simulatorAt(p, theta), p.temperature, warm);
  const pol = softPolicy(Q, p.temperature, p.S, p.A);
  const real = realOf(p);
  return { soft: evaluate(real, pol, p.temperature).J, hard: evaluate(real, pol, 0).J };
}

/** Central differences (step h) of the real returns of the in-sim optimum, every θ coordinate. */
function fdOuterGradient(p: TabularProblem, warm: Float64Array, h: number): Record<Objective, number[]> {
  const out: Record<Objective, number[]> = { soft: [], hard: [] };
  const theta = Float64Array.from(p.theta0);
  for (let i = 0; i < theta.length; i++) {
    const t0 = theta[i];
    theta[i] = t0 + h;
    const plus = realReturnsAt(p, theta, warm);
    theta[i] = t0 - h;
    const minus = realReturnsAt(p, theta, warm);
    theta[i] = t0;
    for (const o of OBJECTIVES) out[o].push((plus[o] - minus[o]) / (2 * h));
  }
  return out;
}

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

const norm = (x: readonly number[]): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

/**
 * ‖x − ref‖ / max(‖ref‖, floor). The floor only matters for quantities that vanish in exact arithmetic
 * (one action; the soft outer gradient when the simulator equals the real system), where a relative
 * error would compare rounding noise with rounding noise.
 */
function relErr(x: unknown, ref: unknown, floor: number): number {
  const a = flat(x);
  const b = flat(ref);
  assert.equal(a.length, b.length, `length ${a.length} vs reference ${b.length}`);
  for (const v of a) assert.ok(Number.isFinite(v), `non-finite value ${v}`);
  const diff = a.map((v, i) => v - b[i]);
  return norm(diff) / Math.max(norm(b), floor);
}

// ---------------------------------------------------------------------------------------------------------
// Random problems (own seeded generator)

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomProblemFile(S: number, A: number, seed: number): object {
  const rnd = mulberry32(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const expRow = (n: number, zeros: boolean): number[] => {
    const x = Array.from({ length: n }, () => -Math.log(1 - rnd()));
    if (zeros && n > 2) x[Math.floor(rnd() * n)] = 0; // exact zero probabilities are allowed
    const z = x.reduce((s, v) => s + v, 0);
    return x.map((v) => v / z);
  };
  const row = (): number[] => {
    const u = rnd();
    if (S === 1) return [1];
    if (u < 0.25) {
      // near-deterministic: [0.999, 0.001, 0, ...] in random positions
      const r = new Array<number>(S).fill(0);
      const i = Math.floor(rnd() * S);
      const j = (i + 1 + Math.floor(rnd() * (S - 1))) % S;
      r[i] = 0.999;
      r[j] = 0.001;
      return r;
    }
    return expRow(S, u < 0.5);
  };
  const sa = <T>(f: () => T): T[][] => Array.from({ length: S }, () => Array.from({ length: A }, f));
  return {
    name: `random-${S}x${A}-seed${seed}`,
    gamma: uniform(0.5, 0.95),
    temperature: uniform(0.2, 2),
    initialDistribution: expRow(S, S > 2),
    real: { transitions: sa(row), rewards: sa(() => uniform(-2, 3)) },
    simulator: {
      transitionLogits: sa(() => Array.from({ length: S }, () => uniform(-5, 5))),
      rewards: sa(() => uniform(-2, 3)),
    },
  };
}

const RANDOM_SIZES: readonly [number, number][] = [
  [2, 2],
  [4, 3],
  [6, 2],
  [10, 5],
  [7, 4],
  [1, 3],
];

// ---------------------------------------------------------------------------------------------------------
// 2. gradient --json against the reference

interface GradientJson {
  method: string;
  objective: string;
  phi: number[][];
  policy: number[][];
  dPhiDTheta?: number[][];
  realReturn: number;
  normalizedReturn: number;
  outerGradient: number[];
}

const TOL = 1e-7;
const FD_TOL = 1e-6;
const FD_STEP = 1e-5;
/** Floors of relErr: value-like quantities O(1); gradients vanish in exact arithmetic in some cases. */
const FLOOR = { value: 1, sensitivity: 1e-3, gradient: 1e-5 };

test("gradient --json (exact, closed-form, adjoint; soft and hard) matches an independent dense reference", async (t) => {
  const randomDir = join(scratch, "random");
  mkdirSync(randomDir, { recursive: true });
  const randomPaths = RANDOM_SIZES.map(([S, A], k) => {
    const path = join(randomDir, `random-${S}x${A}.json`);
    writeFileSync(path, JSON.stringify(randomProblemFile(S, A, 1000 + k), null, 1));
    return path;
  });
  const goodPaths = readdirSync(join(root, GOOD_DIR))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => `${GOOD_DIR}/${f}`);
  const paths = [EXAMPLE, ...goodPaths, ...randomPaths];
  assert.ok(goodPaths.length >= 3, "expected the good fixtures");

  // exact × {soft, hard} for every problem; closed-form and adjoint alternate the objective between
  // problems (closed-form soft / adjoint hard on even ones, the other way round on odd ones) so both
  // methods meet both objectives without doubling the number of processes.
  const jobs = paths.flatMap((path, k) => [
    { path, method: "exact", objective: "soft" as Objective },
    { path, method: "exact", objective: "hard" as Objective },
    { path, method: "closed-form", objective: (k % 2 === 0 ? "soft" : "hard") as Objective },
    { path, method: "adjoint", objective: (k % 2 === 0 ? "hard" : "soft") as Objective },
  ]);
  const started = pool(jobs, (j) =>
    cli(["gradient", "--problem", j.path, "--method", j.method, "--objective", j.objective, "--json"]),
  );

  // Reference values (and the finite-difference check of the reference's outer gradient) meanwhile.
  const refs = new Map<string, { problem: TabularProblem; ref: Reference }>();
  for (const path of paths) {
    const problem = loadTabularProblem(path.startsWith("/") ? path : join(root, path));
    const ref = reference(problem);
    refs.set(path, { problem, ref });
    // FD of θ ↦ J_real(softmax(φ*(θ))) on every problem, all θ coordinates (the 10×5 one has nθ = 550:
    // 1100 warm-started value-iteration solves; all problems together take about a second).
    // Absolute allowance for FD rounding, ε·max(1, |J|)/h per coordinate with ε = 1e-14 (value iteration
    // stops at 1e-14 relative): it only matters where the gradient vanishes (paper-discrete, soft: the
    // simulator is the real system), where ‖fd − g‖ ≈ 5e-9 against an allowance of ≈ 8e-8.
    const fd = fdOuterGradient(problem, ref.simV, FD_STEP);
    for (const o of OBJECTIVES) {
      const g = ref.outerGradient[o];
      const noise = (Math.sqrt(g.length) * (1e-14 * Math.max(1, Math.abs(ref.realReturn[o])))) / FD_STEP;
      const err = norm(fd[o].map((v, i) => v - g[i]));
      assert.ok(
        err <= FD_TOL * norm(g) + noise,
        `reference outer gradient vs finite differences (${path}, ${o}): ‖fd − g‖ = ${err.toExponential(3)}, ‖g‖ = ${norm(g).toExponential(3)}, rel ${(err / norm(g)).toExponential(3)}`,
      );
    }
  }

  const results = await started;
  for (const [k, j] of jobs.entries()) {
    await t.test(`${j.path} --method ${j.method} --objective ${j.objective}`, () => {
      const r = results[k];
      assert.equal(r.status, 0, show(r));
      const out = JSON.parse(r.stdout) as GradientJson;
      const { problem, ref } = refs.get(j.path)!;
      const where = `${j.path} (${problem.S}×${problem.A}) --method ${j.method} --objective ${j.objective}`;
      const check = (field: string, x: unknown, expected: unknown, floor: number) => {
        const e = relErr(x, expected, floor);
        assert.ok(
          e <= TOL,
          `${where}: ${field} relative error ${e.toExponential(3)} > ${TOL}\n  cli: ${JSON.stringify(flat(x).slice(0, 12))}\n  ref: ${JSON.stringify(flat(expected).slice(0, 12))}`,
        );
      };
      assert.equal(out.method, j.method);
      assert.equal(out.objective, j.objective);
      check("phi", out.phi, ref.phi, FLOOR.value);
      check("policy", out.policy, ref.policy, FLOOR.value);
      check("realReturn", out.realReturn, ref.realReturn[j.objective], FLOOR.value);
      const nr = ref.normalizedReturn[j.objective];
      if (nr === null) {
        // Every policy is optimal (e.g. one action): the product scores the attained optimum as 1.
        assert.equal(out.normalizedReturn, 1, `${where}: normalizedReturn with J(π*) = J(uniform)`);
      } else check("normalizedReturn", out.normalizedReturn, nr, FLOOR.value);
      if (j.method === "adjoint")
        assert.equal(out.dPhiDTheta, undefined, `${where}: adjoint has no dPhiDTheta`);
      else {
        assert.ok(out.dPhiDTheta, `${where}: dPhiDTheta missing`);
        check("dPhiDTheta", out.dPhiDTheta, ref.dPhiDTheta, FLOOR.sensitivity);
      }
      check("outerGradient", out.outerGradient, ref.outerGradient[j.objective], FLOOR.gradient);
      if (problem.A === 1) {
        for (const x of flat(out.dPhiDTheta ?? [])) assert.equal(Math.abs(x), 0, `${where}: dPhiDTheta ≠ 0`);
        for (const x of out.outerGradient) assert.equal(Math.abs(x), 0, `${where}: outerGradient ≠ 0`);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// 3. check

test("check on the paper's problem: exit 0, IFT vs FD ≤ 1e-7, closed form and adjoint vs IFT ≤ 1e-10", async () => {
  const [text, json] = await pool(
    [
      ["check", "--problem", EXAMPLE],
      ["check", "--problem", EXAMPLE, "--json"],
    ],
    cli,
  );
  assert.equal(text.status, 0, show(text));
  assert.match(text.stdout, /ok/, show(text));
  assert.equal(json.status, 0, show(json));
  const out = JSON.parse(json.stdout) as {
    rows: { point: string; iftVsFd: number; closedFormVsIft: number; adjointVsIft: number }[];
    pass: boolean;
  };
  assert.equal(out.rows.length, 6, "problem θ and 5 random θ");
  for (const row of out.rows) {
    assert.ok(row.iftVsFd <= 1e-7, `${row.point}: iftVsFd ${row.iftVsFd}`);
    assert.ok(row.closedFormVsIft <= 1e-10, `${row.point}: closedFormVsIft ${row.closedFormVsIft}`);
    assert.ok(row.adjointVsIft <= 1e-10, `${row.point}: adjointVsIft ${row.adjointVsIft}`);
  }
  assert.equal(out.pass, true);
});

// ---------------------------------------------------------------------------------------------------------
// 4. Determinism and run outputs

test("sampled gradient is a function of --seed", async () => {
  const args = (seed: number) => [
    "gradient",
    "--problem",
    EXAMPLE,
    "--method",
    "sampled",
    "--json",
    "--seed",
    `${seed}`,
  ];
  const [a, b, c] = await pool([args(7), args(7), args(8)], cli);
  for (const r of [a, b, c]) assert.equal(r.status, 0, show(r));
  assert.equal(a.stdout, b.stdout, "same seed, different output");
  const ga = (JSON.parse(a.stdout) as GradientJson).outerGradient;
  const gc = (JSON.parse(c.stdout) as GradientJson).outerGradient;
  assert.notDeepEqual(ga, gc, "seeds 7 and 8 gave the same sampled outer gradient");
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test("run is reproducible and writes summary.json, per-trial CSV/JSON and the plots", async () => {
  const outA = join(scratch, "run-sampled-a");
  const outB = join(scratch, "run-sampled-b");
  const outC = join(scratch, "run-exact");
  const sampled = (out: string) => [
    "run",
    "paper-discrete-sampled",
    "--iterations",
    "20",
    "--trials",
    "2",
    "--quiet",
    "--out",
    out,
  ];
  const results = await pool(
    [
      sampled(outA),
      sampled(outB),
      ["run", "paper-discrete", "--iterations", "5", "--trials", "2", "--quiet", "--out", outC],
    ],
    cli,
  );
  for (const r of results) assert.equal(r.status, 0, show(r));

  // Reproducible: same options → byte-identical summary and trial CSVs.
  const csvs = readdirSync(outA)
    .filter((f) => /^trial-\d+\.csv$/.test(f))
    .sort();
  assert.equal(csvs.length, 2, `trial CSVs in ${outA}: ${readdirSync(outA).join(", ")}`);
  for (const f of ["summary.json", ...csvs])
    assert.ok(readFileSync(join(outA, f)).equals(readFileSync(join(outB, f))), `${f} differs between runs`);

  // Shape of summary.json and the files of the exact run.
  const summary = JSON.parse(readFileSync(join(outC, "summary.json"), "utf8"));
  assert.deepEqual(Object.keys(summary).sort(), ["experiment", "trials"]);
  assert.equal(summary.experiment, "paper-discrete");
  assert.equal(summary.trials.length, 2);
  const seeds = new Set<number>();
  for (const trial of summary.trials) {
    assert.ok(Number.isSafeInteger(trial.seed), `seed ${trial.seed}`);
    seeds.add(trial.seed);
    for (const k of ["soft", "hard"])
      assert.ok(Number.isFinite(trial.final[k]), `final.${k} = ${trial.final[k]}`);
    assert.deepEqual(Object.keys(trial.itersTo).sort(), ["0.95", "0.99"]);
    for (const k of ["0.95", "0.99"]) {
      const v = trial.itersTo[k];
      assert.ok(v === null || (Number.isSafeInteger(v) && v >= 0 && v <= 5), `itersTo[${k}] = ${v}`);
    }
    assert.ok(Number.isSafeInteger(trial.realTransitions) && trial.realTransitions >= 0);
    const csv = readFileSync(join(outC, `trial-${trial.seed}.csv`), "utf8")
      .trim()
      .split("\n");
    assert.match(csv[0], /^iteration,/);
    assert.equal(csv.length, 1 + 6, "header + iterations 0..5");
    const json = JSON.parse(readFileSync(join(outC, `trial-${trial.seed}.json`), "utf8"));
    assert.equal(json.seed, trial.seed);
  }
  assert.equal(seeds.size, 2, "distinct trial seeds");
  const png = readFileSync(join(outC, "normalized-return.png"));
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), "normalized-return.png is not a PNG");
  assert.ok(existsSync(join(outC, "normalized-return.svg")));
  assert.match(readFileSync(join(outC, "normalized-return.svg"), "utf8"), /<svg[\s>]/);
});
