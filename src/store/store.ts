/**
 * The durable run store: one SQLite file (better-sqlite3, WAL mode) with the runs, their resolved configs,
 * metrics, every real transition (committed one by one, durable before the call returns) and checkpoints.
 * It knows nothing of algorithms: it stores numbers, blobs and JSON.
 *
 * Faults never damage a file. Before anything is written, the file is checked with read-only queries
 * (SQLite header, application id, schema version): a corrupt file, another application's database and a
 * store from a newer sim2real are refused with a {@link StoreError}, as are read-only files and
 * directories (checked by mode bits too, since root ignores them) and a store locked by another process.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { InputError } from "../common/errors.ts";
import { decodeState, encodeState } from "./codec.ts";

export { decodeState, encodeState } from "./codec.ts";

/** Schema version written to `PRAGMA user_version`; bump it with a new step in {@link MIGRATIONS}. */
export const SCHEMA_VERSION = 1;
/** `PRAGMA application_id` of a sim2real store: "S2RL" in ASCII. */
export const APPLICATION_ID = 0x5332524c;
/** Where the CLI keeps its store unless told otherwise (relative to the working directory). */
export const DEFAULT_STORE_PATH = "./sim2real-runs/store.db";
/** Default wait for another connection's lock before a write gives up (ms). */
export const DEFAULT_BUSY_TIMEOUT_MS = 2000;
/** Checkpoints kept per (run, trial); older ones are deleted when a new one is saved. */
export const CHECKPOINTS_KEPT = 3;

export type RunStatus = "running" | "interrupted" | "completed" | "failed";
export const RUN_STATUSES: readonly RunStatus[] = ["running", "interrupted", "completed", "failed"];

export interface RunRow {
  id: string;
  experiment: string;
  /** The resolved config, parsed. */
  config: unknown;
  seed: number;
  /** sim2real version that created the run. */
  version: string;
  /** Git commit of the code, when known. */
  commit: string | null;
  /** The command line (argv without node and the script). */
  command: string[];
  status: RunStatus;
  error: string | null;
  /** ISO 8601 (UTC). */
  createdAt: string;
  updatedAt: string;
}

export interface NewRun {
  experiment: string;
  config: unknown;
  seed: number;
  version: string;
  commit: string | null;
  command: string[];
}

export interface MetricRow {
  trial: number;
  step: number;
  key: string;
  value: number;
}

/** Counts and last positions of one run (for `sim2real runs` and `show`). */
export interface RunSummary {
  metrics: number;
  transitions: number;
  checkpoints: number;
  /** Highest metric step over all trials; null without metrics. */
  lastStep: number | null;
  lastCheckpoint: { trial: number; iteration: number } | null;
}

export interface OpenOptions {
  /** Open for reading only: the file must exist and is never written. */
  readonly?: boolean;
  /** How long a write waits for another connection's lock (ms); default {@link DEFAULT_BUSY_TIMEOUT_MS}. */
  busyTimeoutMs?: number;
}

/** A store the user must fix (missing, locked, read-only, corrupt, newer). The CLI prints the message, exit 2. */
export class StoreError extends InputError {}

/** One migration step: SQL that takes the schema from version `index` to `index + 1`. */
const MIGRATIONS: readonly string[] = [
  // 0 → 1
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    config TEXT NOT NULL,
    seed REAL NOT NULL,
    version TEXT NOT NULL,
    git_commit TEXT,
    command TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'interrupted', 'completed', 'failed')),
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX runs_by_created ON runs (created_at);
  CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trial INTEGER NOT NULL,
    step INTEGER NOT NULL,
    key TEXT NOT NULL,
    -- No declared type on purpose: a REAL column stores -0.0 as the integer 0, an untyped one keeps it.
    value,
    PRIMARY KEY (run_id, trial, step, key)
  ) WITHOUT ROWID;
  CREATE TABLE transitions (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trial INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    rng TEXT NOT NULL,
    PRIMARY KEY (run_id, trial, batch, idx)
  );
  CREATE TABLE checkpoints (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trial INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, trial, iteration)
  );
  `,
];
/** Tables a store at {@link SCHEMA_VERSION} must have. */
const TABLES = ["meta", "runs", "metrics", "transitions", "checkpoints"];

interface SqliteLikeError {
  code?: unknown;
  message: string;
}
const sqliteCode = (e: unknown): string =>
  typeof (e as SqliteLikeError)?.code === "string" ? ((e as SqliteLikeError).code as string) : "";
const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

interface RunRecord {
  id: string;
  experiment: string;
  config: string;
  seed: number;
  version: string;
  git_commit: string | null;
  command: string;
  status: RunStatus;
  error: string | null;
  created_at: string;
  updated_at: string;
}

function toRunRow(r: RunRecord): RunRow {
  return {
    id: r.id,
    experiment: r.experiment,
    config: decodeState(r.config),
    seed: r.seed,
    version: r.version,
    commit: r.git_commit,
    command: JSON.parse(r.command) as string[],
    status: r.status,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** `yyyymmdd-hhmmss` in UTC. */
function stamp(d: Date): string {
  const iso = d.toISOString(); // 2025-01-31T12:34:56.789Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

function checkIndex(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

export class RunStore {
  readonly path: string;
  readonly readonly: boolean;
  private db: Database.Database;
  private closed = false;

  private constructor(path: string, db: Database.Database, readonly: boolean) {
    this.path = path;
    this.db = db;
    this.readonly = readonly;
  }

  /**
   * Opens the store at `path`. Writable (the default): creates the file and its parent directories when
   * absent, sets WAL mode and migrates an older schema, after checking without writing that the file is a
   * sim2real store this version can use. Read-only: the file must exist; nothing is written to it.
   */
  static open(path: string, options: OpenOptions = {}): RunStore {
    const readonly = options.readonly ?? false;
    const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const exists = existsSync(path);
    if (readonly && !exists) throw new StoreError(`no store at ${path}`);
    if (!readonly) checkWritable(path, exists);
    if (exists) inspect(path, readonly, timeout);
    else mkdirSync(dirname(resolve(path)), { recursive: true });

    let db: Database.Database;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly, timeout });
    } catch (e) {
      throw translate(path, e);
    }
    const store = new RunStore(path, db, readonly);
    try {
      db.pragma("foreign_keys = ON");
      if (!readonly) {
        // Only now, after inspect() found the file usable (or it is new), is anything written.
        if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
        // A commit is in the WAL file when it returns, so a killed or crashed process loses nothing it
        // committed. NORMAL syncs the WAL at checkpoints only: an operating-system crash or power loss may
        // lose the last commits. FULL (an fsync per real transition, ~0.3 ms here) would make the paper's
        // sampled experiment spend most of its time waiting on the disk; SIM2REAL_SYNC=full asks for it.
        db.pragma(process.env.SIM2REAL_SYNC === "full" ? "synchronous = FULL" : "synchronous = NORMAL");
        migrate(db, path);
      }
    } catch (e) {
      db.close();
      throw translate(path, e);
    }
    return store;
  }

  /** Prepared statements, compiled once per connection: metrics and real transitions are written thousands
   * of times a second. */
  private readonly statements = new Map<string, Database.Statement>();

  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (st === undefined) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Runs `fn` in one (immediate) transaction; nested calls become savepoints. */
  transaction<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  /** Records a new run with status `running`; returns its id `yyyymmdd-hhmmss-xxxxxx` (UTC, 6 random hex). */
  createRun(r: NewRun): string {
    if (!Number.isFinite(r.seed)) throw new RangeError(`seed must be a finite number, got ${r.seed}`);
    const insert = this.stmt(
      `INSERT INTO runs (id, experiment, config, seed, version, git_commit, command, status, error, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', NULL, ?, ?)`,
    );
    const config = encodeState(r.config);
    const command = JSON.stringify(r.command);
    return this.guard(() => {
      for (let attempt = 0; ; attempt++) {
        const now = new Date();
        const id = `${stamp(now)}-${randomBytes(3).toString("hex")}`;
        const iso = now.toISOString();
        try {
          insert.run(id, r.experiment, config, r.seed, r.version, r.commit, command, iso, iso);
          return id;
        } catch (e) {
          if (sqliteCode(e) === "SQLITE_CONSTRAINT_PRIMARYKEY" && attempt < 10) continue;
          throw e;
        }
      }
    });
  }

  /** Sets a run's status (and error message, cleared when omitted). `id` is the full id. */
  setStatus(id: string, status: RunStatus, error?: string): void {
    if (!RUN_STATUSES.includes(status)) throw new RangeError(`unknown run status '${status}'`);
    const changes = this.guard(
      () =>
        this.stmt("UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?").run(
          status,
          error ?? null,
          new Date().toISOString(),
          id,
        ).changes,
    );
    if (changes === 0) throw new StoreError(`no run '${id}' in store ${this.path}`);
  }

  /** The run with this id, or the only run whose id starts with it. */
  getRun(idOrPrefix: string): RunRow {
    const exact = this.guard(
      () => this.stmt("SELECT * FROM runs WHERE id = ?").get(idOrPrefix) as RunRecord | undefined,
    );
    if (exact) return toRunRow(exact);
    const found =
      idOrPrefix === ""
        ? []
        : this.guard(
            () =>
              this.stmt("SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 3").all(
                idOrPrefix.length,
                idOrPrefix,
              ) as RunRecord[],
          );
    if (found.length === 1) return toRunRow(found[0]);
    if (found.length === 0) throw new StoreError(`no run '${idOrPrefix}' in store ${this.path}`);
    throw new StoreError(
      `run id '${idOrPrefix}' is ambiguous in store ${this.path}: it starts ${found
        .slice(0, 2)
        .map((r) => r.id)
        .join(", ")}${found.length > 2 ? ", …" : ""}`,
    );
  }

  /** Runs, newest first. */
  listRuns(filter: { experiment?: string; status?: RunStatus; limit?: number } = {}): RunRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.experiment !== undefined) {
      where.push("experiment = ?");
      args.push(filter.experiment);
    }
    if (filter.status !== undefined) {
      where.push("status = ?");
      args.push(filter.status);
    }
    let sql = `SELECT * FROM runs${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, rowid DESC`;
    if (filter.limit !== undefined) {
      checkIndex("limit", filter.limit);
      sql += " LIMIT ?";
      args.push(filter.limit);
    }
    return this.guard(() => (this.stmt(sql).all(...args) as RunRecord[]).map(toRunRow));
  }

  /**
   * Stores metrics at (run, trial, step), replacing values of the same keys; one transaction.
   * Values round-trip bit-exactly (-0, subnormals, ±Infinity included) except NaN: stored as NULL, read
   * back as the default NaN.
   */
  putMetrics(runId: string, trial: number, step: number, metrics: Record<string, number>): void {
    checkIndex("trial", trial);
    checkIndex("step", step);
    for (const [k, v] of Object.entries(metrics))
      if (typeof v !== "number") throw new TypeError(`metric '${k}' must be a number, got ${typeof v}`);
    const put = this.stmt(
      "INSERT OR REPLACE INTO metrics (run_id, trial, step, key, value) VALUES (?, ?, ?, ?, ?)",
    );
    this.guard(
      () =>
        this.db
          .transaction(() => {
            for (const [k, v] of Object.entries(metrics))
              put.run(runId, trial, step, k, Number.isNaN(v) ? null : v);
          })
          .immediate(),
      runId,
    );
  }

  /** Metric values of a run, ordered by trial, step, key. */
  metrics(runId: string, options: { trial?: number; keyPrefix?: string } = {}): MetricRow[] {
    let sql = "SELECT trial, step, key, value FROM metrics WHERE run_id = ?";
    const args: (string | number)[] = [runId];
    if (options.trial !== undefined) {
      sql += " AND trial = ?";
      args.push(options.trial);
    }
    if (options.keyPrefix !== undefined && options.keyPrefix !== "") {
      sql += " AND substr(key, 1, ?) = ?";
      args.push(options.keyPrefix.length, options.keyPrefix);
    }
    sql += " ORDER BY trial, step, key";
    const rows = this.guard(
      () =>
        this.stmt(sql).all(...args) as {
          trial: number;
          step: number;
          key: string;
          value: number | null;
        }[],
    );
    return rows.map((r) => ({ trial: r.trial, step: r.step, key: r.key, value: r.value ?? Number.NaN }));
  }

  /** The value of every metric key at its highest step, per trial (ordered by trial, key). */
  lastMetrics(runId: string): MetricRow[] {
    const rows = this.guard(
      () =>
        this.stmt(
          `SELECT m.trial, m.step, m.key, m.value FROM metrics m
             JOIN (SELECT trial, key, max(step) AS step FROM metrics WHERE run_id = ? GROUP BY trial, key) l
               ON m.trial = l.trial AND m.key = l.key AND m.step = l.step
             WHERE m.run_id = ? ORDER BY m.trial, m.key`,
        ).all(runId, runId) as { trial: number; step: number; key: string; value: number | null }[],
    );
    return rows.map((r) => ({ trial: r.trial, step: r.step, key: r.key, value: r.value ?? Number.NaN }));
  }

  /**
   * Commits one real transition in its own transaction, synced to disk before returning (inside
   * {@link transaction} it commits with the enclosing transaction instead). The key (run, trial, batch, idx)
   * must be new: a stored real transition is never overwritten (StoreError).
   */
  appendTransition(
    runId: string,
    trial: number,
    batch: number,
    idx: number,
    data: Float64Array,
    rng: readonly number[],
  ): void {
    checkIndex("trial", trial);
    checkIndex("batch", batch);
    checkIndex("idx", idx);
    const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const rngText = encodeState(Array.from(rng));
    try {
      this.guard(
        () =>
          this.stmt(
            "INSERT INTO transitions (run_id, trial, batch, idx, data, rng) VALUES (?, ?, ?, ?, ?, ?)",
          ).run(runId, trial, batch, idx, blob, rngText),
        runId,
      );
    } catch (e) {
      if (sqliteCode(e) === "SQLITE_CONSTRAINT_PRIMARYKEY")
        throw new StoreError(
          `real transition (run ${runId}, trial ${trial}, batch ${batch}, idx ${idx}) is already stored; it is never overwritten`,
        );
      throw e;
    }
  }

  /** The real transitions of one batch, ordered by idx. */
  transitions(
    runId: string,
    trial: number,
    batch: number,
  ): { idx: number; data: Float64Array; rng: number[] }[] {
    const rows = this.guard(
      () =>
        this.stmt(
          "SELECT idx, data, rng FROM transitions WHERE run_id = ? AND trial = ? AND batch = ? ORDER BY idx",
        ).all(runId, trial, batch) as { idx: number; data: Buffer; rng: string }[],
    );
    return rows.map((r) => {
      if (r.data.byteLength % 8 !== 0)
        throw new StoreError(
          `store ${this.path} is corrupt (transition ${runId}/${trial}/${batch}/${r.idx} has ${r.data.byteLength} bytes)`,
        );
      const buf = new ArrayBuffer(r.data.byteLength);
      new Uint8Array(buf).set(r.data);
      return { idx: r.idx, data: new Float64Array(buf), rng: decodeState(r.rng) as number[] };
    });
  }

  /** Number of real transitions of a run (of one trial when given). */
  countTransitions(runId: string, trial?: number): number {
    const row = this.guard(() =>
      trial === undefined
        ? this.stmt("SELECT count(*) AS n FROM transitions WHERE run_id = ?").get(runId)
        : this.stmt("SELECT count(*) AS n FROM transitions WHERE run_id = ? AND trial = ?").get(runId, trial),
    ) as { n: number };
    return row.n;
  }

  /**
   * Saves a checkpoint (any state {@link encodeState} accepts, bit-exact), replacing one at the same
   * (trial, iteration). The last {@link CHECKPOINTS_KEPT} of each trial are kept.
   */
  saveCheckpoint(runId: string, trial: number, iteration: number, state: unknown): void {
    checkIndex("trial", trial);
    checkIndex("iteration", iteration);
    const text = encodeState(state);
    this.guard(
      () =>
        this.db
          .transaction(() => {
            this.stmt(
              "INSERT OR REPLACE INTO checkpoints (run_id, trial, iteration, state, created_at) VALUES (?, ?, ?, ?, ?)",
            ).run(runId, trial, iteration, text, new Date().toISOString());
            this.stmt(
              `DELETE FROM checkpoints WHERE run_id = ? AND trial = ? AND iteration NOT IN
                 (SELECT iteration FROM checkpoints WHERE run_id = ? AND trial = ? ORDER BY iteration DESC LIMIT ?)`,
            ).run(runId, trial, runId, trial, CHECKPOINTS_KEPT);
          })
          .immediate(),
      runId,
    );
  }

  /** The checkpoint with the highest (trial, iteration) of a run — or of one trial when given. */
  latestCheckpoint(
    runId: string,
    trial?: number,
  ): { trial: number; iteration: number; state: unknown } | undefined {
    const row = this.guard(() =>
      trial === undefined
        ? this.stmt(
            "SELECT trial, iteration, state FROM checkpoints WHERE run_id = ? ORDER BY trial DESC, iteration DESC LIMIT 1",
          ).get(runId)
        : this.stmt(
            "SELECT trial, iteration, state FROM checkpoints WHERE run_id = ? AND trial = ? ORDER BY iteration DESC LIMIT 1",
          ).get(runId, trial),
    ) as { trial: number; iteration: number; state: string } | undefined;
    return row && { trial: row.trial, iteration: row.iteration, state: decodeState(row.state) };
  }

  /** Counts and last positions of a run. */
  summary(runId: string): RunSummary {
    return this.guard(() => {
      const count = (table: string) =>
        (this.stmt(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`).get(runId) as { n: number }).n;
      const last = this.stmt("SELECT max(step) AS s FROM metrics WHERE run_id = ?").get(runId) as {
        s: number | null;
      };
      const cp = this.stmt(
        "SELECT trial, iteration FROM checkpoints WHERE run_id = ? ORDER BY trial DESC, iteration DESC LIMIT 1",
      ).get(runId) as { trial: number; iteration: number } | undefined;
      return {
        metrics: count("metrics"),
        transitions: count("transitions"),
        checkpoints: count("checkpoints"),
        lastStep: last.s,
        lastCheckpoint: cp ? { trial: cp.trial, iteration: cp.iteration } : null,
      };
    });
  }

  /** Runs `fn`, turning SQLite's user-fixable failures into StoreErrors (a foreign key into "no run"). */
  private guard<T>(fn: () => T, runId?: string): T {
    if (this.closed) throw new Error(`store ${this.path} is closed`);
    try {
      return fn();
    } catch (e) {
      if (runId !== undefined && sqliteCode(e) === "SQLITE_CONSTRAINT_FOREIGNKEY")
        throw new StoreError(`no run '${runId}' in store ${this.path}`);
      throw translate(this.path, e);
    }
  }
}

/** SQLite failures the user can act on → StoreError; everything else is returned unchanged. */
function translate(path: string, e: unknown): unknown {
  if (e instanceof StoreError) return e;
  const code = sqliteCode(e);
  const why = errMessage(e);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new StoreError(`store ${path} is locked by another process (${why})`);
  if (code.startsWith("SQLITE_READONLY") || (e as NodeJS.ErrnoException)?.code === "EROFS")
    return new StoreError(`store ${path} is read-only (${why})`);
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB")
    return new StoreError(`store ${path} is not a sim2real store or is corrupt (${why})`);
  if (code.startsWith("SQLITE_CANTOPEN")) return new StoreError(`cannot open store ${path} (${why})`);
  if (code === "SQLITE_FULL") return new StoreError(`store ${path}: disk full (${why})`);
  return e;
}

/** Refuses a file or directory that cannot be written (by mode bits, access or a read-only filesystem). */
function checkWritable(path: string, exists: boolean): void {
  const readOnly = (why: string) => new StoreError(`store ${path} is read-only (${why})`);
  if (exists) {
    if ((statSync(path).mode & 0o222) === 0) throw readOnly("file has no write permission");
    try {
      accessSync(path, constants.W_OK);
    } catch (e) {
      throw readOnly(errMessage(e));
    }
  }
  // The directory must take the WAL and shared-memory files (or the new store): its nearest existing
  // ancestor when it does not exist yet.
  let dir = dirname(resolve(path));
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if ((statSync(dir).mode & 0o222) === 0) throw readOnly(`directory ${dir} has no write permission`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw readOnly(`directory ${dir}: ${errMessage(e)}`);
  }
}

/**
 * Checks an existing file with a read-only connection (nothing is written): a SQLite database (SQLite
 * itself refuses a bad header or a file shorter than its header says), ours or empty, not newer than this
 * version. Throws StoreError otherwise. Damage deeper in the file surfaces on use, as a StoreError too.
 */
function inspect(path: string, readonly: boolean, timeout: number): void {
  const corrupt = (why: string) =>
    new StoreError(`store ${path} is not a sim2real store or is corrupt (${why})`);
  if (statSync(path).size === 0) {
    if (readonly) throw corrupt("empty file");
    return; // an empty file is an empty database: the writable open creates the schema
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout });
    const appId = db.pragma("application_id", { simple: true }) as number;
    const version = db.pragma("user_version", { simple: true }) as number;
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((r) => r.name);
    if (appId !== APPLICATION_ID) {
      if (appId !== 0 || tables.length > 0)
        throw new StoreError(
          `store ${path} is not a sim2real store (a SQLite database with application_id ${appId}, tables: ${tables.slice(0, 5).join(", ") || "none"})`,
        );
      if (readonly) throw corrupt("empty database");
      return; // an empty SQLite database: the writable open migrates it
    }
    if (version > SCHEMA_VERSION)
      throw new StoreError(
        `store ${path} has schema version ${version}, newer than this sim2real (${SCHEMA_VERSION}); upgrade sim2real`,
      );
    if (readonly && version < SCHEMA_VERSION)
      throw new StoreError(
        `store ${path} has schema version ${version}, older than this sim2real (${SCHEMA_VERSION}); open it for writing once to migrate it`,
      );
    if (version === SCHEMA_VERSION) {
      const missing = TABLES.filter((t) => !tables.includes(t));
      if (missing.length > 0) throw corrupt(`missing tables: ${missing.join(", ")}`);
    }
  } catch (e) {
    throw translate(path, e);
  } finally {
    db?.close();
  }
}

/** Applies the missing migration steps in one transaction, then records the version and application id. */
function migrate(db: Database.Database, path: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > SCHEMA_VERSION)
      throw new StoreError(
        `store ${path} has schema version ${current}, newer than this sim2real (${SCHEMA_VERSION}); upgrade sim2real`,
      );
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    if (current === 0) {
      const now = new Date().toISOString();
      const meta = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
      meta.run("created_by", "sim2real");
      meta.run("created_at", now);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }).immediate();
}
