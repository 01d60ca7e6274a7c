/**
 * `npm run bench`: median time per outer iteration of Algorithm 1, next to the NumPy reference figures
 * of issue 2 (and issue 4's 2 s goal for the general loop with an MLP policy, run in a child process
 * so that its peak memory is its own: bench/outer-nn.ts), and the estimator-quality table (cosine with
 * the exact outer gradient). Writes docs/results/bench.json. Not a test: numbers depend on the machine.
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { tabularModel } from "../src/envs/parametric-model.ts";
import { problemSimulator, thetaFromMDP } from "../src/envs/tabular.ts";
import { sampleDiscountedStream, sampleTrajectories } from "../src/envs/tabular-rollout.ts";
import { paperContinuousProblem } from "../src/experiments/problems.ts";
import { softPolicyIteration } from "../src/inner/soft-policy-iteration.ts";
import { cosine, median } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { BilevelConfigSchema, runBilevel } from "../src/outer/bilevel.ts";
import {
  LinearBilevelConfigSchema,
  realOptimum,
  runLinearBilevel,
} from "../src/outer/bilevel-linear-gaussian.ts";
import { exactRealGradient } from "../src/outer/real-gradient.ts";
import { TabularSoftmaxPolicy } from "../src/policies/policy.ts";
import { writeJson } from "../src/report/files.ts";
import { directSensitivity } from "../src/sensitivity/direct.ts";
import { SampledTheorem1, sampledOuterGradient, sampleSegments } from "../src/sensitivity/sampled.ts";
import {
  adjointOuterGradient,
  iftSensitivity,
  jacobianTransposeTimes,
} from "../src/sensitivity/tabular-exact.ts";
import { sampledTheorem1 } from "../src/sensitivity/tabular-sampled.ts";
import { paperDiscreteProblem, perturbed, randomProblem } from "../test/helpers.ts";
import { envBenchRows } from "./envs.ts";
import { benchMpc, formatMpc } from "./mpc.ts";
import { formatNnGemm, nnGemmRows } from "./nn-gemm.ts";
import { benchRl } from "./rl.ts";

const quick = process.argv.includes("--quick");

function timePerIteration(
  problem: ReturnType<typeof paperDiscreteProblem>,
  overrides: Record<string, unknown>,
  iterations: number,
  repeats: number,
): number {
  const cfg = BilevelConfigSchema.parse({ iterations, stepSize: 0.01, ...overrides });
  const theta0 = perturbed(problem.theta0, 1, 0.1);
  runBilevel(problem, theta0, cfg, Rng.fromSeed(0)); // warm-up (JIT)
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    runBilevel(problem, theta0, cfg, Rng.fromSeed(r));
    times.push((performance.now() - t0) / (iterations + 1));
  }
  return median(times);
}

const paper = paperDiscreteProblem();
const big = randomProblem(50, 4, 50, 0.9, 0.5);
const cases = [
  {
    name: "3×2 exact",
    problem: paper,
    cfg: { sensitivity: "exact" },
    iters: 500,
    numpyMs: 0.54,
    targetFactor: 0.2,
  },
  {
    name: "3×2 sampled (1×1000 in-sim, 10×50 real)",
    problem: paper,
    cfg: {
      sensitivity: "sampled",
      realGradient: "sampled",
      simSteps: 1000,
      realTrajectories: 10,
      realHorizon: 50,
    },
    iters: 200,
    numpyMs: 5.0,
    targetFactor: 0.2,
  },
  {
    name: "50×4 full IFT",
    problem: big,
    cfg: { sensitivity: "exact" },
    iters: quick ? 3 : 10,
    numpyMs: 111,
    targetFactor: 1,
  },
  {
    name: "50×4 adjoint",
    problem: big,
    cfg: { sensitivity: "adjoint" },
    iters: quick ? 20 : 100,
    numpyMs: 1.3,
    targetFactor: 1,
  },
];

/** Median ms per outer iteration of the continuous example (paper-continuous, exact real gradient). */
function timeLinear(inner: "exact" | "lqr", iterations: number, repeats: number): number {
  const problem = paperContinuousProblem();
  const optimum = realOptimum(problem);
  const cfg = LinearBilevelConfigSchema.parse({ inner, iterations });
  const theta0 = Float64Array.of(0.5, 0.5, 0.5, 0.5);
  runLinearBilevel(problem, theta0, cfg, Rng.fromSeed(0), undefined, optimum); // warm-up (JIT)
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    runLinearBilevel(problem, theta0, cfg, Rng.fromSeed(r), undefined, optimum);
    times.push((performance.now() - t0) / (iterations + 1));
  }
  return median(times);
}

const linearCases = [
  { name: "continuous, exact inner (issue 3)", inner: "exact" as const, numpyMs: 5.4 },
  { name: "continuous, LQR inner (issue 3)", inner: "lqr" as const, numpyMs: 1.7 },
];

/** A timing row; numpyMs is null where the reference is a goal rather than a NumPy figure. */
interface TimingRow {
  case: string;
  medianMsPerIteration: number;
  numpyMs: number | null;
  targetMs: number;
  meetsTarget: boolean;
}

const timing: TimingRow[] = cases.map((c) => {
  const ms = timePerIteration(c.problem, c.cfg, c.iters, quick ? 3 : 7);
  const target = c.numpyMs * c.targetFactor;
  return {
    case: c.name,
    medianMsPerIteration: ms,
    numpyMs: c.numpyMs,
    targetMs: target,
    meetsTarget: ms <= target,
  };
});

for (const c of linearCases) {
  const ms = timeLinear(c.inner, quick ? 50 : 200, quick ? 3 : 7);
  const target = c.numpyMs / 3;
  timing.push({
    case: c.name,
    medianMsPerIteration: ms,
    numpyMs: c.numpyMs,
    targetMs: target,
    meetsTarget: ms <= target,
  });
}

/** bench/outer-nn.ts's JSON line. */
interface OuterNnResult {
  nParams: number;
  repeats: number;
  medianSeconds: number;
  phasesSeconds: { inner: number; real: number; sensitivity: number; krylov: number };
  krylovIterations: number;
  maxRssKiB: number;
  heapUsedBytes: number;
}

/** One outer iteration of the general bi-level loop with a 2×64 MLP policy (issue 4), in its own process. */
function outerNn(repeats: number): OuterNnResult {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", "bench/outer-nn.ts", "--repeats", String(repeats)],
    { cwd: root, encoding: "utf8" },
  );
  if (child.status !== 0)
    throw new Error(`bench/outer-nn.ts failed (exit ${child.status}):\n${child.stderr}`);
  const line = child.stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as OuterNnResult;
}

const nn = outerNn(quick ? 3 : 5);
const nnGoalSeconds = 2;
const nnCase = `general bi-level outer iteration, 2×64 MLP (${nn.nParams.toLocaleString("en")} params), 4-D linear-Gaussian`;
const mib = (bytes: number) => bytes / 2 ** 20;
(timing as unknown as Record<string, unknown>[]).push({
  case: nnCase,
  medianMsPerIteration: nn.medianSeconds * 1000,
  numpyMs: null,
  targetMs: nnGoalSeconds * 1000,
  meetsTarget: nn.medianSeconds <= nnGoalSeconds,
  medianSeconds: nn.medianSeconds,
  goalSeconds: nnGoalSeconds,
  phasesSeconds: nn.phasesSeconds,
  krylovIterations: nn.krylovIterations,
  peakRssMiB: mib(nn.maxRssKiB * 1024),
  heapUsedMiB: mib(nn.heapUsedBytes),
  nParams: nn.nParams,
  repeats: nn.repeats,
});

console.log(`sim2real bench — Node ${process.version}, ${cpus()[0]?.model ?? "cpu"} × ${cpus().length}`);
console.log(
  "\nMedian time per outer iteration (inner solve + sensitivity + real gradient + θ update + evaluation)",
);
const caseWidth = Math.max(42, ...timing.map((t) => t.case.length));
console.log(
  `${"case".padEnd(caseWidth)} ${"ms".padStart(9)} ${"NumPy ms".padStart(9)} ${"target".padStart(8)}  ok`,
);
for (const t of timing)
  console.log(
    `${t.case.padEnd(caseWidth)} ${t.medianMsPerIteration.toFixed(3).padStart(9)} ${(t.numpyMs === null ? "—" : t.numpyMs.toFixed(2)).padStart(9)} ${t.targetMs.toFixed(3).padStart(8)}  ${t.meetsTarget ? "yes" : "NO"}`,
  );
{
  const p = nn.phasesSeconds;
  console.log(
    `  (last row: ${nn.medianSeconds.toFixed(2)} s vs the ${nnGoalSeconds} s goal of issue 4, median of ${nn.repeats}; inner ${p.inner.toFixed(2)} s, real ${p.real.toFixed(2)} s, sensitivity build ${p.sensitivity.toFixed(2)} s, Krylov solve ${p.krylov.toFixed(2)} s (${nn.krylovIterations} iterations); peak RSS ${mib(nn.maxRssKiB * 1024).toFixed(0)} MiB)`,
  );
}

// Estimator quality: cosine between each estimator's outer gradient and the exact one,
// 10 seeds × 5 θ = θ_real + N(0, I), 1 in-sim trajectory/stream of 1000 steps.
const thetaReal = thetaFromMDP(paper.real);
const estimators = {
  "Theorem 1, control variates (discounted stream)": [] as number[],
  "Theorem 1 as printed (1 trajectory, no control variates)": [] as number[],
  "direct score-function differentiation (slides)": [] as number[],
};
for (const steps of [1000, 10000]) {
  for (const k of Object.keys(estimators)) (estimators as Record<string, number[]>)[k] = [];
  for (let t = 0; t < 5; t++) {
    const theta = perturbed(thetaReal, 400 + t);
    const sim = problemSimulator(paper, theta);
    const sol = softPolicyIteration(sim, paper.temperature);
    const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau: paper.temperature, evaluation: sol.evaluation };
    const v = exactRealGradient(paper.real, sol.pi, sol.logPi, paper.temperature);
    const exact = jacobianTransposeTimes(iftSensitivity(inp), v, theta.length);
    const og = (J: Float64Array) => cosine(jacobianTransposeTimes(J, v, theta.length), exact);
    for (let seed = 0; seed < 10; seed++) {
      const rng = Rng.fromSeed(1000 * t + seed);
      const stream = sampleDiscountedStream(sim, sol.pi, steps, rng);
      const traj = sampleTrajectories(sim, sol.pi, 1, steps, rng);
      estimators["Theorem 1, control variates (discounted stream)"].push(og(sampledTheorem1(inp, stream)));
      estimators["Theorem 1 as printed (1 trajectory, no control variates)"].push(
        og(sampledTheorem1(inp, traj, { controlVariates: false })),
      );
      estimators["direct score-function differentiation (slides)"].push(og(directSensitivity(inp, stream)));
    }
  }
  console.log(
    `\nCosine with the exact outer gradient, 1 × ${steps} in-sim steps, 10 seeds × 5 θ (median [min])`,
  );
  for (const [k, xs] of Object.entries(estimators))
    console.log(`  ${k.padEnd(58)} ${median(xs).toFixed(4)} [${Math.min(...xs).toFixed(4)}]`);
  (timing as unknown as Record<string, unknown>[]).push({
    case: `estimator cosine, 1×${steps}`,
    ...Object.fromEntries(
      Object.entries(estimators).map(([k, xs]) => [k, { median: median(xs), min: Math.min(...xs) }]),
    ),
  });
}

// The general engine (sensitivity/sampled.ts) on the same example (issue 4's validation): the tabular
// model and softmax policy through the Hessian-free operators, exact soft V as the critic, 10⁵ in-sim
// samples, 5 θ × 4 seeds, outer gradient against the exact adjoint one.
{
  const model = tabularModel(paper.S, paper.A);
  const policy = new TabularSoftmaxPolicy(paper.S, paper.A);
  const init = (r: Rng) => Float64Array.of(r.categorical(paper.mu, 0, paper.S));
  const samples = quick ? 10000 : 100000;
  const cos: number[] = [];
  const perTheta: string[] = [];
  for (let t = 0; t < 5; t++) {
    const theta = perturbed(thetaReal, 400 + t);
    const sim = problemSimulator(paper, theta);
    const sol = softPolicyIteration(sim, paper.temperature);
    const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau: paper.temperature, evaluation: sol.evaluation };
    const v = exactRealGradient(paper.real, sol.pi, sol.logPi, paper.temperature);
    const exact = adjointOuterGradient(inp, v);
    const V = sol.evaluation.V;
    const value = (o: Float64Array, n: number, out: Float64Array) => {
      for (let i = 0; i < n; i++) out[i] = V[o[i]];
    };
    const row: number[] = [];
    for (let seed = 0; seed < 4; seed++) {
      const rng = Rng.fromSeed(1000 * t + seed);
      const phi = Float64Array.from(sol.logPi);
      const batch = sampleSegments(model, policy, phi, theta, init, paper.gamma, samples, rng);
      const ops = new SampledTheorem1(
        model,
        policy,
        phi,
        theta,
        batch,
        value,
        { gamma: paper.gamma, temperature: paper.temperature },
        rng,
      );
      row.push(cosine(sampledOuterGradient(ops, v, { damping: 1e-6 }).grad, exact));
    }
    cos.push(...row);
    perTheta.push(
      `θ seed ${400 + t} (‖exact‖ ${Math.hypot(...exact).toFixed(2)}): ${row.map((c) => c.toFixed(3)).join(", ")}`,
    );
  }
  console.log(`
General engine on the tabular example, ${samples} in-sim samples, 5 θ × 4 seeds: median cosine ${median(cos).toFixed(4)}, ${cos.filter((c) => c >= 0.98).length}/20 ≥ 0.98`);
  for (const line of perTheta) console.log(`  ${line}`);
  (timing as unknown as Record<string, unknown>[]).push({
    case: `general engine cosine, tabular, ${samples} samples`,
    median: median(cos),
    min: Math.min(...cos),
    atLeast098: cos.filter((c) => c >= 0.98).length,
    all: cos,
  });
}

{
  // GEMM throughput of the nn kernels, both backends (DESIGN §3: ~4.5 vs ~18 GFLOP/s).
  const rows = nnGemmRows({ quick });
  console.log("");
  for (const line of formatNnGemm(rows)) console.log(line);
  for (const r of rows)
    (timing as unknown as Record<string, unknown>[]).push({ ...r, case: `nn gemm ${r.backend}: ${r.case}` });
}

{
  // SAC gradient updates per second (issue 7: batch 256, 2×256 MLPs) and the smaller nets the evals use.
  const rl = benchRl({ quick });
  console.log("\nRL updates (batch 256):");
  for (const r of rl)
    console.log(
      `  ${r.name.padEnd(52)} ${r.medianMs.toFixed(2).padStart(8)} ms ${r.perSecond.toFixed(1).padStart(8)} /s`,
    );
  (timing as unknown as Record<string, unknown>[]).push(
    ...rl.map((r) => ({ case: r.name, medianMs: r.medianMs, perSecond: r.perSecond })),
  );
}

{
  // Environment steps per second (issue 7): batch 1 and 1024 through VecEnv, each task.
  const rows = await envBenchRows({ quick });
  console.log("\nEnvironment steps per second (VecEnv, one core):");
  console.log(`  ${"task".padEnd(14)} ${"batch".padStart(6)} ${"steps/s".padStart(12)}`);
  for (const r of rows)
    console.log(
      `  ${r.task.padEnd(14)} ${String(r.batch).padStart(6)} ${Math.round(r.stepsPerSecond).toLocaleString("en").padStart(12)}`,
    );
  for (const r of rows)
    (timing as unknown as Record<string, unknown>[]).push({
      case: `env steps/s ${r.task} batch ${r.batch}`,
      ...r,
    });
}

{
  // MPC solve and du₀*/dθ sensitivity times (issue 9): pendulum N = 20 warm-started, cart-pole, LQ.
  const rows = benchMpc({ quick });
  console.log("\nMPC (median and 90th-percentile ms per call, closed-loop episodes):");
  for (const line of formatMpc(rows)) console.log(line);
  for (const r of rows)
    (timing as unknown as Record<string, unknown>[]).push({ ...r, case: `mpc: ${r.name}` });
}

if (!quick) {
  writeJson("docs/results/bench.json", {
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    results: timing,
  });
  console.log("\nwrote docs/results/bench.json");
}
