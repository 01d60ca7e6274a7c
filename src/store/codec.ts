/**
 * A bit-exact JSON codec for checkpoint state (and anything else the store keeps as text).
 *
 * Plain JSON data passes through unchanged (so a config stays readable in the database). What JSON cannot
 * say is tagged with a one-key object:
 * - typed arrays: `{"$f64": base64}` of their bytes (also `$f32`, `$i8`, `$u8`, `$u8c`, `$i16`, `$u16`,
 *   `$i32`, `$u32`, `$i64`, `$u64`); the bytes are the platform's (little-endian on every supported machine);
 * - non-finite numbers and -0: `{"$num": "NaN" | "Infinity" | "-Infinity" | "-0"}`;
 * - `undefined`: `{"$undefined": true}`; bigint: `{"$bigint": "123"}`;
 * - a plain object that itself has exactly one key starting with `$` is escaped as `{"$obj": {...}}`.
 * Finite numbers are written by JSON.stringify, whose shortest round-trip form parses back to the same
 * double (subnormals included). Class instances other than typed arrays (Map, Date, …) and cycles are
 * refused with an error naming the path.
 */

type TypedArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface TypedArrayCtor {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer): TypedArray;
}

/** Tag → constructor. Order matters for encoding: Buffer (a Uint8Array subclass) is written as `$u8`. */
const TYPED: ReadonlyArray<readonly [string, TypedArrayCtor]> = [
  ["$f64", Float64Array],
  ["$f32", Float32Array],
  ["$i8", Int8Array],
  ["$u8", Uint8Array],
  ["$u8c", Uint8ClampedArray],
  ["$i16", Int16Array],
  ["$u16", Uint16Array],
  ["$i32", Int32Array],
  ["$u32", Uint32Array],
  ["$i64", BigInt64Array],
  ["$u64", BigUint64Array],
];
const TYPED_BY_TAG = new Map<string, TypedArrayCtor>(TYPED);

function typedTag(x: ArrayBufferView): string | undefined {
  // Uint8ClampedArray before Uint8Array is not needed: neither is a subclass of the other.
  for (const [tag, ctor] of TYPED) if (x instanceof (ctor as unknown as typeof Uint8Array)) return tag;
  return undefined;
}

function isPlainObject(x: object): x is Record<string, unknown> {
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function encodeNumber(x: number): unknown {
  if (Number.isNaN(x)) return { $num: "NaN" };
  if (x === Number.POSITIVE_INFINITY) return { $num: "Infinity" };
  if (x === Number.NEGATIVE_INFINITY) return { $num: "-Infinity" };
  if (Object.is(x, -0)) return { $num: "-0" };
  return x;
}

function toJsonable(x: unknown, path: string, seen: Set<object>): unknown {
  switch (typeof x) {
    case "number":
      return encodeNumber(x);
    case "string":
    case "boolean":
      return x;
    case "undefined":
      return { $undefined: true };
    case "bigint":
      return { $bigint: x.toString() };
    case "function":
    case "symbol":
      throw new TypeError(`cannot encode ${typeof x} at ${path}`);
  }
  if (x === null) return null;
  const obj = x as object;
  if (ArrayBuffer.isView(obj)) {
    const tag = typedTag(obj);
    if (tag === undefined) throw new TypeError(`cannot encode ${obj.constructor.name} at ${path}`);
    return { [tag]: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("base64") };
  }
  if (seen.has(obj)) throw new TypeError(`cannot encode a cycle at ${path}`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const out = new Array<unknown>(obj.length);
      // Index loop, not map: holes become `undefined` instead of staying holes.
      for (let i = 0; i < obj.length; i++) out[i] = toJsonable(obj[i], `${path}[${i}]`, seen);
      return out;
    }
    if (!isPlainObject(obj))
      throw new TypeError(`cannot encode ${obj.constructor?.name ?? "object"} at ${path}`);
    const out: Record<string, unknown> = {};
    const keys = Object.keys(obj);
    for (const k of keys) define(out, k, toJsonable(obj[k], `${path}.${k}`, seen));
    return keys.length === 1 && keys[0].startsWith("$") ? { $obj: out } : out;
  } finally {
    seen.delete(obj);
  }
}

/** Sets an own enumerable property, also for the key `__proto__` (which plain assignment would not). */
function define(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__")
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

function fromJsonable(x: unknown, path: string): unknown {
  if (x === null || typeof x !== "object") return x;
  if (Array.isArray(x)) return x.map((v, i) => fromJsonable(v, `${path}[${i}]`));
  const obj = x as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const tag = keys[0];
    const v = obj[tag];
    if (tag === "$obj") {
      if (v === null || typeof v !== "object" || Array.isArray(v))
        throw new TypeError(`bad $obj at ${path}: not an object`);
      return decodeFields(v as Record<string, unknown>, path);
    }
    if (tag === "$num") {
      switch (v) {
        case "NaN":
          return Number.NaN;
        case "Infinity":
          return Number.POSITIVE_INFINITY;
        case "-Infinity":
          return Number.NEGATIVE_INFINITY;
        case "-0":
          return -0;
      }
      throw new TypeError(`bad $num at ${path}: ${JSON.stringify(v)}`);
    }
    if (tag === "$undefined") return undefined;
    if (tag === "$bigint") {
      if (typeof v !== "string") throw new TypeError(`bad $bigint at ${path}`);
      return BigInt(v);
    }
    const ctor = TYPED_BY_TAG.get(tag);
    if (ctor === undefined) throw new TypeError(`unknown tag ${tag} at ${path}`);
    if (typeof v !== "string") throw new TypeError(`bad ${tag} at ${path}: not a base64 string`);
    const bytes = Buffer.from(v, "base64");
    if (bytes.byteLength % ctor.BYTES_PER_ELEMENT !== 0)
      throw new TypeError(`bad ${tag} at ${path}: ${bytes.byteLength} bytes`);
    // A fresh, aligned buffer that the result owns alone.
    const buf = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(buf).set(bytes);
    return new ctor(buf);
  }
  return decodeFields(obj, path);
}

function decodeFields(obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) define(out, k, fromJsonable(obj[k], `${path}.${k}`));
  return out;
}

/** Encodes JSON-like state (with typed arrays, non-finite numbers, -0, undefined, bigint) as JSON text. */
export function encodeState(x: unknown): string {
  return JSON.stringify(toJsonable(x, "$", new Set()));
}

/** Inverse of {@link encodeState}: bit-exact for every value encodeState accepts. */
export function decodeState(s: string): unknown {
  return fromJsonable(JSON.parse(s), "$");
}
