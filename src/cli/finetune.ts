/**
 * `sim2real pretrain --env <task> [--steps N] [--seed S] [--out FILE]`: SAC with the value network in the
 * simulator, then the delta-dynamics model on its buffer → a sim bundle (src/sgft/sim-bundle.ts).
 *
 * `sim2real finetune --env <task> --gap <gap>… --method sgft-sac|sgft-mpc|sac|pbrs-sac --from <bundle>
 * [--steps N] [--horizon H] [--seed S] [--out DIR] [--config FILE]`: fine-tunes in the "real" system (the
 * task with the gaps) and writes DIR/result.json (resolved config, evaluations against real transitions)
 * and DIR/curve.csv. Progress lines go to stderr.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { InputError } from "../common/errors.ts";
import { VecEnv } from "../envs/control/vec-env.ts";
import { makeAnyEnv } from "../envs/make-env.ts";
import { Rng } from "../math/rng.ts";
import type { FinetunePoint } from "../sgft/finetune.ts";
import {
  defaultHorizon,
  type FinetuneMethod,
  finetuneConfigSchema,
  runFinetuneMethod,
} from "../sgft/methods.ts";
import { pretrainInSim, type SimBundle } from "../sgft/sim-bundle.ts";
import { readConfigFile } from "./config-file.ts";
import { checkEnvName, parseGapOptions } from "./train.ts";

const log = (quiet: boolean | undefined, s: string) => {
  if (!quiet) process.stderr.write(`${s}\n`);
};

function fmtMetrics(step: number, m: Record<string, number>): string {
  return `${step} ${Object.entries(m)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(" ")}`;
}

export interface PretrainOptions {
  env: string;
  steps?: number;
  seed?: number;
  out?: string;
  hidden?: string;
  modelUpdates?: number;
  quiet?: boolean;
}

export async function pretrainCommand(opts: PretrainOptions): Promise<void> {
  checkEnvName(opts.env);
  const seed = opts.seed ?? 0;
  const hidden = (opts.hidden ?? "64,64").split(",").map((x) => Number(x));
  if (hidden.some((h) => !Number.isSafeInteger(h) || h < 1))
    throw new InputError(
      `--hidden must be comma-separated positive integers, got '${opts.hidden}'`,
      "hidden",
    );
  const out = opts.out ?? join("sim2real-out", "bundles", `${opts.env}-seed${seed}.json`);
  const env = await makeAnyEnv(opts.env, [], "--env");
  const evalEnv = await makeAnyEnv(opts.env, [], "--env");
  try {
    const bundle = pretrainInSim(
      opts.env,
      {
        env: new VecEnv(env, {}, 1, Rng.fromSeed(seed)),
        actionSpace: env.actionSpace,
        evalEnv: new VecEnv(evalEnv, {}, 10, Rng.fromSeed(10_000 + seed)),
      },
      { totalSteps: opts.steps ?? 20_000, hidden, learningStarts: 1000, evalInterval: 2000 },
      { hidden: [128, 128] },
      opts.modelUpdates ?? 5000,
      Rng.fromSeed(seed),
      (s, m) => log(opts.quiet, fmtMetrics(s, m)),
    );
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(bundle));
    process.stdout.write(`sim bundle written to ${out}\n`);
  } finally {
    env.dispose();
    evalEnv.dispose();
  }
}

/** A sim bundle from a file, checked enough that a wrong file is a clear InputError. */
export function readBundle(path: string): SimBundle {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(
      `--from: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      "from",
    );
  }
  let b: SimBundle;
  try {
    b = JSON.parse(raw);
  } catch {
    throw new InputError(`--from: ${path} is not JSON`, "from");
  }
  if (b?.format !== "sim2real/sim-bundle" || b.version !== 1)
    throw new InputError(
      `--from: ${path} is not a sim bundle (format sim2real/sim-bundle, version 1; make one with \`sim2real pretrain\`)`,
      "from",
    );
  if (b.sac?.value === null || b.sac?.value === undefined)
    throw new InputError(`--from: the bundle's SAC agent has no value network (V_sim)`, "from");
  return b;
}

export interface FinetuneOptions {
  env: string;
  gap?: string[];
  method: FinetuneMethod;
  from: string;
  steps?: number;
  horizon?: number;
  seed?: number;
  out?: string;
  config?: string;
  quiet?: boolean;
}

export async function finetuneCommand(opts: FinetuneOptions): Promise<void> {
  checkEnvName(opts.env);
  const gaps = parseGapOptions(opts.gap);
  const bundle = readBundle(opts.from);
  if (bundle.env !== opts.env)
    throw new InputError(`--from: the bundle was trained on '${bundle.env}', --env is '${opts.env}'`, "from");
  const extra = opts.config === undefined ? {} : (readConfigFile(opts.config) as Record<string, unknown>);
  if (typeof extra !== "object" || extra === null || Array.isArray(extra))
    throw new InputError("--config: the file must hold an object of config fields", "config");
  const method = opts.method;
  const known = Object.keys(finetuneConfigSchema(method).shape);
  for (const k of Object.keys(extra))
    if (!known.includes(k))
      throw new InputError(
        `--config: unknown field '${k}' for ${method}; known: ${known.join(", ")}`,
        `config.${k}`,
      );
  const seed = opts.seed ?? 0;
  const horizon = opts.horizon ?? defaultHorizon(method);
  const gapLabel = gaps.map((g) => g.label).join(",");
  const out =
    opts.out ?? join("sim2real-out", "finetune", `${opts.env}+${gapLabel || "nogap"}-${method}-seed${seed}`);
  const real = await makeAnyEnv(opts.env, gaps, "--env", "--gap");
  const evalReal = await makeAnyEnv(opts.env, gaps, "--env", "--gap");
  try {
    const task = {
      env: new VecEnv(real, {}, 1, Rng.fromSeed(1000 + seed)),
      actionSpace: real.actionSpace,
      evalEnv: new VecEnv(evalReal, {}, 10, Rng.fromSeed(20_000 + seed)),
    };
    const onMetrics = (s: number, m: Record<string, number>) => log(opts.quiet, fmtMetrics(s, m));
    let points: FinetunePoint[];
    let config: unknown;
    try {
      ({ points, config } = runFinetuneMethod({
        method,
        task,
        bundle,
        seed,
        horizon,
        realSteps: opts.steps,
        config: extra,
        onMetrics,
      }));
    } catch (e) {
      // zod errors from a bad --config: name the field
      if (e instanceof Error && e.name === "ZodError") {
        const issue = (e as unknown as { issues: { path: (string | number)[]; message: string }[] })
          .issues[0];
        throw new InputError(`--config: ${issue.path.join(".") || "(root)"}: ${issue.message}`, "config");
      }
      throw e;
    }
    mkdirSync(out, { recursive: true });
    const result = { env: opts.env, gaps: gapLabel, method, horizon, seed, from: opts.from, config, points };
    writeFileSync(join(out, "result.json"), `${JSON.stringify(result, null, 1)}\n`);
    writeFileSync(
      join(out, "curve.csv"),
      `realTransitions,return,std\n${points.map((p) => `${p.realTransitions},${p.return},${p.std}`).join("\n")}\n`,
    );
    const last = points[points.length - 1];
    process.stdout.write(
      `${method} on ${opts.env}${gapLabel ? `+${gapLabel}` : ""}: real return ${points[0].return.toFixed(1)} (zero-shot) → ${last.return.toFixed(1)} after ${last.realTransitions} real transitions; written to ${out}\n`,
    );
  } finally {
    real.dispose();
    evalReal.dispose();
  }
}
