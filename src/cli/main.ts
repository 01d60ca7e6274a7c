/**
 * The `sim2real` command line. Errors the user can fix print one clear message (no stack) and exit 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { EXIT_BAD_INPUT, EXIT_INTERRUPTED, InputError } from "../common/errors.ts";
import { LINEAR_EXPERIMENTS, linearExperimentNames } from "../experiments/linear-gaussian-experiments.ts";
import { NN_EXPERIMENTS, nnExperimentNames } from "../experiments/nn-experiments.ts";
import { experimentNames, TABULAR_EXPERIMENTS } from "../experiments/tabular-experiments.ts";
import { SENSITIVITY_METHODS } from "../outer/bilevel.ts";

export function intArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
}
export function positiveIntArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}
export function posNumArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("sim2real")
    .description(
      "Close the sim-to-real performance gap: adapt a simulator's dynamics and reward parameters so that the policy optimal in simulation is the best one in reality (bi-level RL), and compare with the classical alternatives.",
    )
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command("gradient")
    .description(
      "Solve the in-sim problem at the problem file's simulator θ and print the sensitivity (dφ/dθ for a tabular file, dK/dθ for a linear-Gaussian one) and the outer (real-world) gradient ∇_θ J_real",
    )
    .requiredOption(
      "--problem <file>",
      'problem file (JSON; tabular, or linear-Gaussian with "kind": "linear-gaussian"; see README \'Problem files\')',
    )
    // Options of one family only have no commander default: gradient.ts applies the defaults, so that it
    // can tell an option the user gave (an error for the other family) from a default.
    .addOption(
      new Option("--objective <kind>", "real objective (tabular; default: soft)").choices(["soft", "hard"]),
    )
    .addOption(
      new Option("--method <method>", "sensitivity method (tabular; default: exact; see README)").choices(
        SENSITIVITY_METHODS,
      ),
    )
    .addOption(
      new Option("--inner <solver>", "in-sim solver (linear-Gaussian; default: lqr)").choices([
        "exact",
        "lqr",
      ]),
    )
    .addOption(
      new Option(
        "--lqr-sensitivity <route>",
        "dK/dθ of the LQR gain (linear-Gaussian with --inner lqr; default: riccati)",
      ).choices(["riccati", "policy-gradient"]),
    )
    .addOption(
      new Option(
        "--real-gradient <kind>",
        "real-world gradient: exact (real system known) or sampled (REINFORCE)",
      )
        .choices(["exact", "sampled"])
        .default("exact"),
    )
    .option(
      "--sim-steps <n>",
      "in-sim transitions for sampled/paper/direct (tabular; default: 1000)",
      intArg("--sim-steps"),
    )
    .option(
      "--real-trajectories <n>",
      "real trajectories for a sampled real gradient (default: 10 tabular, 100 linear-Gaussian)",
      intArg("--real-trajectories"),
    )
    .option(
      "--real-horizon <n>",
      "steps per real trajectory (default: 50 tabular, 40 linear-Gaussian)",
      intArg("--real-horizon"),
    )
    .option("--seed <n>", "random seed (sampled methods)", intArg("--seed"), 0)
    .option("--json", "print one JSON object")
    .action(async (opts) => (await import("./gradient.ts")).gradientCommand(opts));

  program
    .command("check")
    .description(
      "Compare the exact IFT sensitivity with central finite differences of the inner solution (and the closed form and adjoint with the IFT) at the problem's θ and at random θ",
    )
    .requiredOption("--problem <file>", "tabular problem file (JSON)")
    .option("--random <n>", "also check at n random θ = θ_sim + N(0, I)", intArg("--random"), 5)
    .option("--seed <n>", "seed for the random θ", intArg("--seed"), 0)
    .option("--step <h>", "finite-difference step", posNumArg("--step"), 1e-5)
    .option("--json", "print JSON")
    .action(async (opts) => (await import("./check.ts")).checkCommand(opts));

  program
    .command("run")
    .description(
      `Run a named experiment and write per-trial CSV/JSON, plots (PNG+SVG) and summary.json. Experiments: ${[...experimentNames(), ...linearExperimentNames(), ...nnExperimentNames()].join(", ")}`,
    )
    .argument("<experiment>", "experiment name (see `sim2real experiments`)")
    .option("--out <dir>", "output directory (default sim2real-out/<experiment>)")
    .option("--seed <n>", "base seed; trial k uses seed + k", intArg("--seed"))
    .option("--trials <n>", "number of trials", intArg("--trials"))
    .option("--iterations <n>", "outer iterations", intArg("--iterations"))
    .option("--step-size <a>", "outer step size", posNumArg("--step-size"))
    .option("--step-decay <t>", "step schedule α/(1 + t/T); 0 = constant", intArg("--step-decay"))
    .addOption(new Option("--optimizer <kind>", "outer optimiser").choices(["sga", "adam", "adam-norm"]))
    .addOption(
      new Option("--sensitivity <method>", "sensitivity method (tabular)").choices(SENSITIVITY_METHODS),
    )
    .addOption(new Option("--real-gradient <kind>", "real gradient").choices(["exact", "sampled"]))
    .option("--real-trajectories <n>", "real trajectories per iteration", intArg("--real-trajectories"))
    .option("--real-horizon <n>", "steps per real trajectory", intArg("--real-horizon"))
    .option("--sim-steps <n>", "in-sim transitions per sampled sensitivity (tabular)", intArg("--sim-steps"))
    .addOption(new Option("--objective <kind>", "real objective (tabular)").choices(["soft", "hard"]))
    .option(
      "--adapt <which>",
      "parameters that adapt: all | transitions | rewards (tabular); all | dynamics | reward (linear-Gaussian)",
    )
    .option("--inner <list>", "inner solvers, comma-separated: exact,lqr (linear-Gaussian)")
    .addOption(
      new Option("--lqr-sensitivity <route>", "dK/dθ of the LQR gain (linear-Gaussian)").choices([
        "riccati",
        "policy-gradient",
      ]),
    )
    .option(
      "--config <file>",
      "JSON or YAML config file (see `sim2real config <experiment>`); flags override it",
    )
    .option("--quiet", "no progress output")
    .option("--store <path>", "run store (SQLite; default $SIM2REAL_STORE or ./sim2real-runs/store.db)")
    .option(
      "--checkpoint-every <n>",
      "checkpoint every n outer iterations (tabular experiments; default 10)",
      intArg("--checkpoint-every"),
    )
    // Loaded on demand: the plotting stack (vega, resvg) is only needed by `run`.
    .action(async (experiment, opts) => (await import("./run.ts")).runCommand(experiment, opts));

  program
    .command("resume")
    .description(
      "Continue a recorded run from its last checkpoint (after a crash or Ctrl-C), replaying its recorded real transitions instead of collecting them again; ends with the same metrics as an uninterrupted run",
    )
    .argument("<run>", "run id (or a unique prefix; see `sim2real runs`)")
    .option("--store <path>", "run store (default $SIM2REAL_STORE or ./sim2real-runs/store.db)")
    .option("--out <dir>", "output directory (default: the run's own)")
    .option("--quiet", "no progress output")
    .action(async (run, opts) => (await import("./resume.ts")).resumeCommand(run, opts));

  program
    .command("runs")
    .description(
      "List the recorded runs of a store, newest first: id, experiment, status, seed, creation time, real transitions and last metric step",
    )
    .option("--store <path>", "run store (default $SIM2REAL_STORE or ./sim2real-runs/store.db)")
    .option("--experiment <name>", "only runs of this experiment")
    .addOption(
      new Option("--status <status>", "only runs with this status").choices([
        "running",
        "interrupted",
        "completed",
        "failed",
      ]),
    )
    .option("--limit <n>", "at most n runs", intArg("--limit"))
    .option("--json", "print a JSON array")
    // Loaded on demand: only these commands need SQLite.
    .action(async (opts) => (await import("./runs.ts")).runsCommand(opts));

  program
    .command("show")
    .description(
      "Show one recorded run: its row, resolved config, counts of metrics, real transitions and checkpoints, the last checkpoint and the last value of every metric per trial",
    )
    .argument("<run>", "run id (or a unique prefix; see `sim2real runs`)")
    .option("--store <path>", "run store (default $SIM2REAL_STORE or ./sim2real-runs/store.db)")
    .option("--json", "print one JSON object")
    .action(async (run, opts) => (await import("./runs.ts")).showCommand(run, opts));

  program
    .command("report")
    .description(
      "Write a self-contained HTML report of recorded runs (plots embedded as SVG: normalised return against iteration and against real transitions, θ trajectories, sensitivity checks, diagnostics, the resolved configs) plus a PNG per chart; several runs are overlaid",
    )
    .argument("<runs...>", "run ids or unique prefixes (see `sim2real runs`)")
    .option("--store <path>", "run store (default $SIM2REAL_STORE or ./sim2real-runs/store.db)")
    .option("--out <dir>", "output directory (default sim2real-report)")
    .option("--quiet", "do not print the report's path")
    .action(async (runs, opts) => {
      await (await import("./report.ts")).reportCommand(runs, opts);
    });

  program
    .command("envs")
    .description("List the control tasks (observation and action spaces, horizon) and the named gaps")
    .option("--json", "print JSON")
    .action(async (opts) => (await import("./envs.ts")).envsCommand(opts));

  program
    .command("train")
    .description(
      'Train a policy on a control task (SAC or PPO; optionally with gaps: training on the "real" system) and write a policy file: the agent, the resolved config and its deterministic evaluation. Tasks and gaps: `sim2real envs`',
    )
    .requiredOption(
      "--env <task>",
      "control task (pendulum, cartpole, reacher, mj-pendulum, mj-cartpole, mj-puck)",
    )
    .addOption(
      new Option(
        "--gap <gap>",
        "gap of the training system, name or name:value (repeatable, or comma-separated)",
      )
        .argParser((v: string, prev: string[]) => [...prev, v])
        .default([] as string[], "none"),
    )
    .addOption(new Option("--algo <algo>", "learner").choices(["sac", "ppo"]).makeOptionMandatory())
    .option("--steps <n>", "environment steps (default: per task, see README)", positiveIntArg("--steps"))
    .option("--seed <n>", "random seed", intArg("--seed"), 0)
    .option("--out <file>", "policy file (default sim2real-out/policies/<env>[+gaps]-<algo>-seed<S>.json)")
    .option(
      "--config <file>",
      "JSON or YAML file with any field of the algorithm's config (plus nEnvs, evalEpisodes); --steps overrides totalSteps",
    )
    .option("--quiet", "no progress lines")
    .action(async (opts) => (await import("./train.ts")).trainCommand(opts));

  program
    .command("eval")
    .description(
      'Run the deterministic policy of a policy file (from `sim2real train`) for K episodes on a task with gaps and print mean ± std return (and success rate for mj-puck): a sim-trained policy on the "real" system gives the zero-shot gap',
    )
    .argument("<checkpoint>", "policy file written by `sim2real train`")
    .option(
      "--env <task>",
      "task to evaluate on (default: the training task; another needs the same observation size and action box)",
    )
    .addOption(
      new Option(
        "--gap <gap>",
        "gap of the evaluation system (repeatable, or comma-separated; the training gaps are not implied)",
      )
        .argParser((v: string, prev: string[]) => [...prev, v])
        .default([] as string[], "none"),
    )
    .option("--episodes <k>", "episodes (one per evaluation env copy)", positiveIntArg("--episodes"), 20)
    .option("--seed <n>", "evaluation seed", intArg("--seed"), 0)
    .option("--json", "print one JSON object (with every episode's return)")
    .action(async (checkpoint, opts) => (await import("./eval.ts")).evalCommand(checkpoint, opts));

  program
    .command("pretrain")
    .description(
      "Train in simulation what real-world fine-tuning needs (SGFT): SAC with the value network V_sim, then a delta-dynamics model on its replay buffer; writes a sim bundle",
    )
    .requiredOption("--env <task>", "control task (the simulator; `sim2real envs`)")
    .option("--steps <n>", "simulator steps of SAC (default 20000)", positiveIntArg("--steps"))
    .option("--hidden <list>", "hidden widths of SAC's networks (default 64,64)")
    .option(
      "--model-updates <n>",
      "Adam steps fitting the dynamics model (default 5000)",
      intArg("--model-updates"),
    )
    .option("--seed <n>", "random seed", intArg("--seed"), 0)
    .option("--out <file>", "bundle file (default sim2real-out/bundles/<env>-seed<S>.json)")
    .option("--quiet", "no progress lines")
    .action(async (opts) => (await import("./finetune.ts")).pretrainCommand(opts));

  program
    .command("finetune")
    .description(
      'Fine-tune a sim bundle in the "real" system (the task with gaps): SGFT-SAC (Dyna, eq. (1) with horizon H), SGFT-MPC (MPPI over the learned model, V_sim terminal), or the SAC / PBRS-SAC baselines; writes the real return against real transitions',
    )
    .requiredOption("--env <task>", "control task (`sim2real envs`)")
    .option(
      "--gap <gap>",
      "gap of the real system, name or name:value (repeatable, or comma-separated)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .addOption(
      new Option("--method <method>", "fine-tuning method")
        .choices(["sgft-sac", "sgft-mpc", "sac", "pbrs-sac"])
        .makeOptionMandatory(),
    )
    .requiredOption("--from <bundle>", "sim bundle written by `sim2real pretrain`")
    .option("--steps <n>", "real transitions (budget)", positiveIntArg("--steps"))
    .option(
      "--horizon <h>",
      "H of eq. (1) (default 1 for sgft-sac, 4 for sgft-mpc)",
      positiveIntArg("--horizon"),
    )
    .option("--seed <n>", "random seed", intArg("--seed"), 0)
    .option("--out <dir>", "output directory (default sim2real-out/finetune/<env>+<gaps>-<method>-seed<S>)")
    .option("--config <file>", "JSON or YAML file with fields of the method's config")
    .option("--quiet", "no progress lines")
    .action(async (opts) => (await import("./finetune.ts")).finetuneCommand(opts));

  program
    .command("compare")
    .description(
      "Run every method × seed on one benchmark and write a table (Markdown + CSV: real transitions to reach the benchmark's thresholds (default 0.9/0.95/0.99; SGFT benchmarks 0.8/0.95 and the forgetting dip) and to stay ≥ 0.95, final value, wall time) and a plot of normalised return against real transitions (log x, median with an interquartile band). Benchmarks: `sim2real benchmarks`",
    )
    .argument("<benchmark>", "benchmark name")
    .option("--methods <list>", "comma-separated subset of the benchmark's methods")
    .option("--seeds <n>", "number of seeds (seed, seed + 1, …)", intArg("--seeds"), 5)
    .option("--seed <n>", "first seed", intArg("--seed"), 0)
    .option("--out <dir>", "output directory (default sim2real-out/compare/<benchmark>)")
    .option("--quiet", "no progress output")
    .option(
      "--config <file>",
      "JSON or YAML file { methods: { <method>: { <field>: value } } } overriding the methods' settings (see `sim2real config <benchmark> --benchmark`); written back resolved as config.json",
    )
    .action(async (benchmark, opts) => (await import("./compare.ts")).compareCommand(benchmark, opts));

  program
    .command("benchmarks")
    .description("List the comparison benchmarks and their methods")
    .action(async () => {
      const { BENCHMARKS } = await import("../experiments/benchmarks.ts");
      for (const b of Object.values(BENCHMARKS))
        process.stdout.write(
          `${b.name} (${b.misspecified ? "misspecified" : "well-specified"})\n  ${b.description}\n  methods: ${b
            .methods()
            .map((m) => m.name)
            .join(", ")}\n`,
        );
    });

  program
    .command("config")
    .description("Print a named experiment's resolved configuration, every field with its documentation")
    .argument("<experiment>", "experiment name (see `sim2real experiments`)")
    .option("--json", "print the resolved configuration as JSON")
    .option("--config <file>", "resolve with this JSON or YAML config file (validated; nothing is run)")
    .option(
      "--benchmark",
      "the name is a benchmark of `sim2real compare`: print every method's configuration (needed for names that are also experiments, e.g. paper-discrete)",
    )
    .action(async (experiment, opts) => (await import("./config.ts")).configCommand(experiment, opts));

  program
    .command("experiments")
    .description("List the named experiments")
    .action(() => {
      for (const [name, e] of [
        ...Object.entries(TABULAR_EXPERIMENTS),
        ...Object.entries(LINEAR_EXPERIMENTS),
        ...Object.entries(NN_EXPERIMENTS),
      ])
        process.stdout.write(`${name}\n  ${e.description}\n`);
    });
  return program;
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return (process.exitCode as number | undefined) ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are bad input.
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    if (err instanceof InputError) {
      process.stderr.write(`sim2real: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof Error && err.name === "Interrupted") {
      process.stderr.write(`\nsim2real: ${err.message}\n`);
      return EXIT_INTERRUPTED;
    }
    throw err;
  }
}
