/**
 * Issue 9 experiments (RL over MPC): `sim2real compare` on mpc-continuous and mpc-pendulum, then a summary
 * of what the issue asks to show.
 *
 *   node --import tsx scripts/eval-mpc.ts                       # both benchmarks, seeds 0–4
 *   node --import tsx scripts/eval-mpc.ts --only mpc-pendulum   # some of them (comma-separated output names)
 *   options: --seeds 5  --out docs/results/mpc
 *
 * Runs (RUNS below): the two benchmarks, mpc-continuous with a 1-step MPC, and mpc-pendulum tuning only the
 * model / only the stage cost / only the terminal cost (config files in OUT/configs, issue 9 item 5).
 * Writes OUT/<run>/ (compare's table.md, table.csv, results.json, config.json, compare.png/svg) and
 * OUT/table.md + OUT/results.json (the summary: final values per seed, medians, the must-show checks, the
 * tuned parameters by name; pendulum returns in real units: J = J_zero·(1 − normalised)).
 * Must show: mpc-continuous — the tuned MPC (mpc-dpg) ≥ 0.999 normalised in all seeds; mpc-pendulum — the
 * tuned MPC beats the untuned and the system-identified MPC in real return (median over seeds).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compareCommand } from "../src/cli/compare.ts";
import { median } from "../src/math/linalg.ts";
import {
  continuousController,
  continuousStart,
  PENDULUM_EVAL,
  PENDULUM_FRICTION,
  PENDULUM_NOMINAL,
  pendulumSetup,
  withExploration,
} from "../src/experiments/mpc-experiments.ts";
import { paperContinuousProblem } from "../src/experiments/problems.ts";
import { writeJson } from "../src/report/files.ts";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const OUT = opt("out", "docs/results/mpc");
const SEEDS = Number(opt("seeds", "5"));
const only = opt("only", "");

/** The comparisons: the two benchmarks, and variants of their configuration (issue 9, item 5). */
const RUNS: { out: string; bench: string; config?: string; methods?: string }[] = [
  { out: "mpc-continuous", bench: "mpc-continuous" },
  { out: "mpc-pendulum", bench: "mpc-pendulum" },
  {
    out: "mpc-continuous-horizon-1",
    bench: "mpc-continuous",
    config: "docs/results/mpc/configs/continuous-horizon-1.json",
    methods: "untuned,mpc-dpg,mpc-exact",
  },
  ...["model", "cost", "terminal"].map((g) => ({
    out: `mpc-pendulum-tune-${g}`,
    bench: "mpc-pendulum",
    config: `docs/results/mpc/configs/pendulum-tune-${g}.json`,
    methods: "untuned,mpc-dpg",
  })),
];

interface CompareResults {
  command: string;
  seeds: number[];
  results: {
    method: string;
    seed: number;
    wallMs: number;
    finalTheta: number[];
    realTransitions: number[];
    normalized: number[];
  }[];
}

for (const run of RUNS.filter((r) => only === "" || only.split(",").includes(r.out))) {
  const t0 = performance.now();
  await compareCommand(run.bench, {
    seeds: SEEDS,
    out: join(OUT, run.out),
    config: run.config,
    methods: run.methods,
    quiet: false,
  });
  process.stderr.write(`${run.out}: ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

const read = (name: string): CompareResults | null => {
  const f = join(OUT, name, "results.json");
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as CompareResults) : null;
};
const fmt = (x: number, d = 4) => x.toFixed(d);
const summary: Record<string, unknown> = {};
const md: string[] = ["# RL over MPC (issue 9): summary", ""];

const cont = read("mpc-continuous");
if (cont) {
  const problem = withExploration(paperContinuousProblem(), Math.sqrt(paperContinuousProblem().policyCov[0]));
  const thetaNames = continuousController(problem, continuousStart(0)).thetaNames;
  const methods = [...new Set(cont.results.map((r) => r.method))];
  const rows = methods.map((m) => {
    const rs = cont.results.filter((r) => r.method === m);
    const finals = rs.map((r) => r.normalized.at(-1) as number);
    return {
      method: m,
      finals,
      median: median(finals),
      min: Math.min(...finals),
      transitions: median(rs.map((r) => r.realTransitions.at(-1) as number)),
      finalTheta: rs.map((r) => r.finalTheta),
    };
  });
  const tuned = rows.find((r) => r.method === "mpc-dpg");
  const check = tuned ? tuned.finals.every((v) => v >= 0.999) : false;
  summary["mpc-continuous"] = { command: cont.command, seeds: cont.seeds, thetaNames, methods: rows, mustShow: { "mpc-dpg ≥ 0.999 in every seed": check } };
  md.push(
    "## mpc-continuous",
    "",
    `Normalised real return J_real(K_N(θ))/J_real(K*) (exact), final value per seed ${cont.seeds.join(", ")}. Command: \`${cont.command}\``,
    "",
    "| method | final per seed | median | min | real transitions |",
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.method} | ${r.finals.map((v) => fmt(v)).join(", ")} | ${fmt(r.median)} | ${fmt(r.min)} | ${Math.round(r.transitions).toLocaleString("en-US")} |`),
    "",
    `Must show — tuned MPC (mpc-dpg) ≥ 0.999 in every seed: **${check ? "yes" : "no"}**.`,
    "",
    `Tuned θ of mpc-dpg (${thetaNames.join(", ")}; weights are log):`,
    "",
    ...(tuned?.finalTheta.map((t, k) => `- seed ${cont.seeds[k]}: ${t.map((v) => fmt(v, 3)).join(", ")}`) ?? []),
    "",
  );
}

const pend = read("mpc-pendulum");
if (pend) {
  const setup = pendulumSetup({});
  const names = setup.controller.thetaNames;
  const J = (normalized: number) => setup.zero * (1 - normalized);
  const methods = [...new Set(pend.results.map((r) => r.method))];
  const rows = methods.map((m) => {
    const rs = pend.results.filter((r) => r.method === m);
    const returns = rs.map((r) => J(r.normalized.at(-1) as number));
    // Parameters in physical units: model entries as they are, weights exp(θ).
    const params = rs.map((r) =>
      Object.fromEntries(
        names.map((n, i) => [n.replace("log ", ""), n.includes("/log ") ? Math.exp(r.finalTheta[i]) : r.finalTheta[i]]),
      ),
    );
    return {
      method: m,
      returns,
      median: median(returns),
      transitions: median(rs.map((r) => r.realTransitions.at(-1) as number)),
      params,
    };
  });
  const get = (m: string) => rows.find((r) => r.method === m);
  const tuned = get("mpc-dpg");
  const beats = (m: string) => (tuned && get(m) ? tuned.median > (get(m) as { median: number }).median : false);
  const checks = { "mpc-dpg median > untuned median": beats("untuned"), "mpc-dpg median > sysid median": beats("sysid") };
  summary["mpc-pendulum"] = {
    command: pend.command,
    seeds: pend.seeds,
    friction: PENDULUM_FRICTION,
    nominalModel: PENDULUM_NOMINAL,
    evaluation: { ...PENDULUM_EVAL, zeroTorqueReturn: setup.zero },
    thetaNames: names,
    methods: rows,
    mustShow: checks,
  };
  const pnames = Object.keys(rows[0]?.params[0] ?? {});
  md.push(
    "## mpc-pendulum",
    "",
    `Real return (undiscounted, ${PENDULUM_EVAL.steps} steps, mean over ${PENDULUM_EVAL.episodes} fixed start states, deterministic MPC), final value per seed ${pend.seeds.join(", ")}; zero torque: ${fmt(setup.zero, 1)}. Command: \`${pend.command}\``,
    "",
    "| method | final real return per seed | median | real transitions |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.method} | ${r.returns.map((v) => fmt(v, 1)).join(", ")} | ${fmt(r.median, 1)} | ${Math.round(r.transitions).toLocaleString("en-US")} |`),
    "",
    `Must show — tuned (mpc-dpg) median above untuned: **${checks["mpc-dpg median > untuned median"] ? "yes" : "no"}**; above sysid: **${checks["mpc-dpg median > sysid median"] ? "yes" : "no"}**.`,
    "",
    "Final parameters (median over seeds; weights in natural units):",
    "",
    `| method | ${pnames.join(" | ")} |`,
    `|---|${pnames.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.method} | ${pnames.map((p) => fmt(median(r.params.map((q) => q[p] as number)), 4)).join(" | ")} |`),
    "",
  );
}

// Configuration variants: final values per seed (pendulum also as real returns).
const variants: Record<string, unknown> = {};
for (const run of RUNS.slice(2)) {
  const r = read(run.out);
  if (!r) continue;
  const pendulum = run.bench === "mpc-pendulum";
  const zero = pendulum ? pendulumSetup({}).zero : Number.NaN;
  const methods = [...new Set(r.results.map((x) => x.method))].map((m) => {
    const finals = r.results.filter((x) => x.method === m).map((x) => x.normalized.at(-1) as number);
    const returns = finals.map((v) => zero * (1 - v));
    return { method: m, finals, median: median(finals), ...(pendulum ? { returns, medianReturn: median(returns) } : {}) };
  });
  variants[run.out] = { command: r.command, seeds: r.seeds, methods };
  md.push(
    `## ${run.out}`,
    "",
    `${pendulum ? "Real return" : "Normalised real return"}, final value per seed ${r.seeds.join(", ")}. Command: \`${r.command}\``,
    "",
    "| method | final per seed | median |",
    "|---|---|---|",
    ...methods.map((m) => {
      const v = pendulum ? (m.returns as number[]) : m.finals;
      const d = pendulum ? 1 : 4;
      return `| ${m.method} | ${v.map((x) => fmt(x, d)).join(", ")} | ${fmt(median(v), d)} |`;
    }),
    "",
  );
}
summary.variants = variants;

if (cont || pend) {
  writeFileSync(join(OUT, "table.md"), md.join("\n"));
  writeJson(join(OUT, "results.json"), summary);
  process.stderr.write(`${md.join("\n")}\nwrote ${OUT}/table.md, results.json\n`);
}
