/**
 * `sim2real config <experiment>`: the resolved defaults of a named experiment, each with its documentation;
 * `sim2real config <benchmark> --benchmark`: the same for every method of a comparison benchmark.
 */
import type { z } from "zod";
import { InputError } from "../common/errors.ts";
import { BENCHMARKS, benchmarkNames, resolveBenchmark } from "../experiments/benchmarks.ts";
import { LINEAR_EXPERIMENTS, LinearExperimentSchema } from "../experiments/linear-gaussian-experiments.ts";
import { NN_EXPERIMENTS, NnExperimentSchema } from "../experiments/nn-experiments.ts";
import { resolveSpec } from "../experiments/resolve.ts";
import { TABULAR_EXPERIMENTS, TabularExperimentSchema } from "../experiments/tabular-experiments.ts";
import { readConfigFile } from "./config-file.ts";

interface Described {
  description?: string;
  shape?: Record<string, Described>;
  _zod?: { def?: { innerType?: Described } };
}

/** The object schema inside default/optional wrappers, if any. */
function objectShape(s: Described): Record<string, Described> | undefined {
  let cur: Described | undefined = s;
  while (cur) {
    if (cur.shape) return cur.shape;
    cur = cur._zod?.def?.innerType;
  }
  return undefined;
}

/**
 * One `key: value  # documentation` line per field (nested objects indented). `notes` (by dotted path)
 * prefix a field's documentation; with `commentUnset` a field without a value is printed commented out.
 */
function lines(
  schema: Described,
  value: Record<string, unknown>,
  indent: string,
  notes: Record<string, string> = {},
  commentUnset = false,
  path = "",
): string[] {
  const shape = objectShape(schema) ?? {};
  const out: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const v = value[key];
    const at = path + key;
    const text = [notes[at] && `[${notes[at]}]`, field.description].filter(Boolean).join(" ");
    const doc = text ? `  # ${text}` : "";
    if (objectShape(field) && v && typeof v === "object" && !Array.isArray(v)) {
      out.push(`${indent}${key}:${doc}`);
      out.push(...lines(field, v as Record<string, unknown>, `${indent}  `, notes, commentUnset, `${at}.`));
    } else if (v === undefined && commentUnset) out.push(`${indent}# ${key}:${doc}`);
    else out.push(`${indent}${key}: ${JSON.stringify(v)}${doc}`);
  }
  return out;
}

/** Every method of a benchmark, resolved with the optional config file: the shape a compare config file has. */
function benchmarkConfig(name: string, o: { json?: boolean; config?: string }): void {
  const bench = BENCHMARKS[name];
  if (!bench)
    throw new InputError(`unknown benchmark '${name}'; known: ${benchmarkNames().join(", ")}`, "benchmark");
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  const resolved = resolveBenchmark(bench, file);
  if (o.json) {
    const methods = Object.fromEntries(resolved.map((r) => [r.name, r.config]));
    process.stdout.write(`${JSON.stringify({ methods }, null, 2)}\n`);
    return;
  }
  const out = [
    `# ${name}: ${bench.description}`,
    "# A compare config file (JSON or YAML, `sim2real compare <benchmark> --config FILE`) sets any of these",
    "# fields under methods.<method>; [derived] and [fixed] fields may only repeat the value shown.",
    "methods:",
  ];
  for (const r of resolved) {
    const notes = Object.fromEntries(
      Object.entries(r.method.derived ?? {}).map(([path, d]) => [path, d.note]),
    );
    out.push(`  ${r.name}:  # ${r.spec.description}`);
    out.push(...lines(r.method.schema as Described, r.config, "    ", notes, true));
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

export function configCommand(
  name: string,
  o: { json?: boolean; config?: string; benchmark?: boolean },
): void {
  // A name that is only a benchmark needs no --benchmark; one shared with an experiment means the experiment.
  const experiment = TABULAR_EXPERIMENTS[name] || LINEAR_EXPERIMENTS[name] || NN_EXPERIMENTS[name];
  if (o.benchmark || (!experiment && BENCHMARKS[name])) {
    benchmarkConfig(name, o);
    return;
  }
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  let schema: z.ZodType;
  let spec: unknown;
  let description: string;
  if (TABULAR_EXPERIMENTS[name]) {
    schema = TabularExperimentSchema;
    spec = resolveSpec(TabularExperimentSchema, name, TABULAR_EXPERIMENTS[name].spec, {}, file);
    description = TABULAR_EXPERIMENTS[name].description;
  } else if (LINEAR_EXPERIMENTS[name]) {
    schema = LinearExperimentSchema;
    spec = resolveSpec(LinearExperimentSchema, name, LINEAR_EXPERIMENTS[name].spec, {}, file);
    description = LINEAR_EXPERIMENTS[name].description;
  } else if (NN_EXPERIMENTS[name]) {
    schema = NnExperimentSchema;
    spec = resolveSpec(NnExperimentSchema, name, NN_EXPERIMENTS[name].spec, {}, file);
    description = NN_EXPERIMENTS[name].description;
  } else
    throw new InputError(
      `unknown experiment '${name}'; known: ${[...Object.keys(TABULAR_EXPERIMENTS), ...Object.keys(LINEAR_EXPERIMENTS), ...Object.keys(NN_EXPERIMENTS)].join(", ")}; benchmarks (sim2real compare): ${benchmarkNames().join(", ")}`,
      "experiment",
    );
  if (o.json) {
    process.stdout.write(`${JSON.stringify(spec, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `# ${name}: ${description}\n${lines(schema as Described, spec as Record<string, unknown>, "").join("\n")}\n`,
  );
}
