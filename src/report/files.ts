/** Small writers for report artefacts: pretty JSON and RFC-4180 CSV. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export type CsvValue = number | string | null;
export type CsvRow = Record<string, CsvValue>;

/** JSON replacer: typed arrays (e.g. Float64Array) become plain arrays instead of `{"0":…}` objects. */
function typedArraysAsArrays(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const arr = Array.from(value as unknown as ArrayLike<number | bigint>);
    // JSON has no bigint: keep full precision as strings.
    return arr.map((v) => (typeof v === "bigint" ? v.toString() : v));
  }
  return value;
}

/** Pretty JSON (2-space indent, trailing newline); non-finite numbers become null as in JSON.stringify. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, typedArraysAsArrays, 2)}\n`;
}

/** Write `value` as pretty JSON, creating parent directories. */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toJson(value), "utf8");
}

function csvField(value: CsvValue | undefined): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "number" ? String(value) : value;
  // RFC 4180: quote fields containing a comma, double quote or line break; double embedded quotes.
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Rows to CSV text: a header line, then one line per row, each ending in "\n".
 * `columns` defaults to every key in order of first appearance. Missing/null values are empty fields;
 * numbers are printed with full precision (`String(n)`, so NaN and Infinity appear as such).
 */
export function toCsv(rows: CsvRow[], columns?: string[]): string {
  let cols = columns;
  if (!cols) {
    const seen = new Set<string>();
    for (const row of rows) for (const k of Object.keys(row)) seen.add(k);
    cols = [...seen];
  }
  const lines = [cols.map(csvField).join(",")];
  for (const row of rows) lines.push(cols.map((c) => csvField(row[c])).join(","));
  return `${lines.join("\n")}\n`;
}

/** Write rows as CSV (see {@link toCsv}), creating parent directories. */
export function writeCsv(path: string, rows: CsvRow[], columns?: string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toCsv(rows, columns), "utf8");
}
