/**
 * Shared machinery of the problem-file loaders (tabular-problem.ts, linear-gaussian-problem.ts): reading
 * JSON with clear errors, the wording of type errors, and turning zod issues into one InputError that lists
 * every problem (field path and what is wrong) in the order a reader meets them.
 */
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { InputError } from "../common/errors.ts";

/** At most this many problems are listed in one error message. */
const MAX_REPORTED = 10;

export type Ctx = z.core.$RefinementCtx<unknown>;
export type Path = (string | number)[];

/** Short description of a JSON value for "got ..." messages. */
export const describeValue = (v: unknown): string => {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return `string ${JSON.stringify(v.length > 30 ? `${v.slice(0, 30)}...` : v)}`;
    case "number":
      return String(v);
    case "boolean":
      return `boolean ${v}`;
    case "object":
      return "an object";
    default:
      return typeof v;
  }
};

/** A number for humans: 15 significant digits, so that 0.9700000000000001 prints as 0.97. */
export const fmt = (x: number): string => String(Number(x.toPrecision(15)));

export const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

export interface RawIssue {
  readonly code?: string;
  readonly input?: unknown;
}
export const numberError = (iss: RawIssue): string => {
  if (iss.input === undefined) return "required";
  if (typeof iss.input === "number") return `must be a finite number, got ${iss.input}`;
  return `expected a number, got ${describeValue(iss.input)}`;
};
export const arrayError = (iss: RawIssue): string =>
  iss.input === undefined ? "required" : `expected an array, got ${describeValue(iss.input)}`;

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
export const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A shape mismatch (ranked after missing fields and wrong types, before bad values). */
export const addShapeIssue = (ctx: Ctx, path: Path, message: string): void => {
  ctx.addIssue({ code: "custom", path, message, params: { kind: "shape" }, continue: true });
};

/** `["real", "transitions", 1, 0]` → `real.transitions[1][0]`. */
const formatPath = (path: readonly PropertyKey[]): string => {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
};

/** Missing fields, wrong types, unknown keys and wrong literals first, then shape mismatches, then bad values. */
const issueRank = (issue: z.core.$ZodIssue): number => {
  if (issue.code === "invalid_type") return typeof issue.input === "number" ? 2 : 0; // non-finite: a bad value
  if (issue.code === "custom") return issue.params?.kind === "shape" ? 1 : 2;
  return issue.code === "unrecognized_keys" || issue.code === "invalid_value" ? 0 : 2;
};

/**
 * One InputError for all issues, sorted by rank and then by document order (`keyOrder` gives each key's
 * position within its object; unknown keys go last).
 */
export function problemFileError(
  issues: readonly z.core.$ZodIssue[],
  source: string | undefined,
  keyOrder: Record<string, number>,
): InputError {
  const key = (k: PropertyKey) => (typeof k === "number" ? k : (keyOrder[String(k)] ?? 99));
  const comparePaths = (x: readonly PropertyKey[], y: readonly PropertyKey[]): number => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = key(x[i]) - key(y[i]);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  };
  const sorted = issues
    .map((issue) => ({ issue, rank: issueRank(issue) }))
    .sort((x, y) => x.rank - y.rank || comparePaths(x.issue.path, y.issue.path))
    .map(({ issue }) => ({ field: formatPath(issue.path), message: issue.message }));
  const lines = sorted.slice(0, MAX_REPORTED).map((p) => `  - ${p.field ? `${p.field}: ` : ""}${p.message}`);
  if (sorted.length > MAX_REPORTED) lines.push(`  - ... and ${sorted.length - MAX_REPORTED} more`);
  const header = source ? `${source}: invalid problem file` : "invalid problem file";
  return new InputError([header, ...lines].join("\n"), sorted[0]?.field ?? "");
}

/** `"ENOENT: no such file or directory, open '/x'"` → `"ENOENT: no such file or directory"`. */
const systemErrorText = (err: unknown): string => {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '.*'$/s, "");
};

/** Appends `(line L, column C)` when the JSON parser reports a character position. */
const jsonErrorText = (err: unknown, text: string): string => {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  if (!m || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line}, column ${column})`;
};

/** Reads and parses a JSON problem file; every failure is an `InputError` naming the file. */
export function readProblemJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InputError(`cannot read problem file '${path}': ${systemErrorText(err)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new InputError(`${path}: not valid JSON: the file is empty`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not valid JSON: ${jsonErrorText(err, text)}`);
  }
}
