import { CairnError } from "../errors.js";
import { isId, isSha256 } from "./layout.js";
import { isStoredMetric } from "./metrics.js";
import type { CheckpointRecord, ChunkRef, ExperimentRecord, ExperimentSummary, Tree, TreeEntry, TreeRef } from "./types.js";
import { checkRelativePath } from "./paths.js";

/**
 * Parsing of what is read back from a repository. Anything stored may be corrupt or hostile, so
 * every field is checked and a failure names the object and what was wrong.
 */
class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function string(value: unknown, what: string): string {
  if (typeof value !== "string") fail(`${what} is not a string`);
  return value;
}

function nullableString(value: unknown, what: string): string | null {
  return value === null || value === undefined ? null : string(value, what);
}

function count(value: unknown, what: string): number {
  if (!isCount(value)) fail(`${what} is not a non-negative integer`);
  return value;
}

function date(value: unknown, what: string): string {
  if (!isDate(string(value, what))) fail(`${what} is not a date`);
  return value as string;
}

function treeRef(value: unknown, what: string): TreeRef | null {
  if (value === null || value === undefined) return null;
  const ref = object(value, what);
  if (!isSha256(ref.sha256)) fail(`${what}.sha256 is not a SHA-256`);
  return { sha256: ref.sha256, files: count(ref.files, `${what}.files`), bytes: count(ref.bytes, `${what}.bytes`) };
}

type FieldKind = "string" | "string?" | "number" | "boolean";
/** Field checks prepared once (a listing checks 10,000 environments): name, type, and whether null is allowed. */
type FieldSpec = readonly (readonly [name: string, type: string, nullable: boolean])[];

function fieldSpec(kinds: Record<string, FieldKind>): FieldSpec {
  return Object.entries(kinds).map(([name, kind]) => [name, kind.replace("?", ""), kind.endsWith("?")] as const);
}

const ENVIRONMENT_FIELDS = fieldSpec({ user: "string", host: "string", workingDirectory: "string", node: "string", os: "string", arch: "string", cpu: "string", cpus: "number", memoryBytes: "number" });
const GPU_FIELDS = fieldSpec({ name: "string", memory: "string?", driver: "string?" });
const GIT_FIELDS = fieldSpec({ commit: "string?", branch: "string?", dirty: "boolean", diffBytes: "number", remote: "string?" });
const DEPENDENCY_FIELDS = fieldSpec({ source: "string", declared: "string?", installed: "string?" });

/** Fields a reader shows or computes with must have their types: one hostile record must not crash a listing. */
function fields(value: Record<string, unknown>, what: string, spec: FieldSpec): void {
  for (const [name, type, nullable] of spec) {
    const field = value[name];
    if (field === undefined || (field === null && nullable)) continue;
    if (typeof field !== type) fail(`${what}.${name} is not a ${type}`);
  }
}

function environmentOf(value: unknown): ExperimentRecord["environment"] {
  const environment = object(value ?? {}, "environment");
  fields(environment, "environment", ENVIRONMENT_FIELDS);
  const { command, gpus, runtimes } = environment;
  if (command !== undefined && !(Array.isArray(command) && command.every((part) => typeof part === "string"))) fail(`environment.command is not a list of strings`);
  if (gpus !== undefined) {
    if (!Array.isArray(gpus)) fail(`environment.gpus is not a list`);
    gpus.forEach((gpu, i) => fields(object(gpu, `environment.gpus[${i}]`), `environment.gpus[${i}]`, GPU_FIELDS));
  }
  if (runtimes !== undefined) for (const [name, version] of Object.entries(object(runtimes, "environment.runtimes"))) if (typeof version !== "string") fail(`environment.runtimes.${name} is not a string`);
  return environment as unknown as ExperimentRecord["environment"];
}

function gitOf(value: unknown): ExperimentRecord["git"] {
  if (value === null || value === undefined) return null;
  const git = object(value, "git");
  fields(git, "git", GIT_FIELDS);
  if (git.diff !== undefined && git.diff !== null && !isSha256(git.diff)) fail(`git.diff is not a SHA-256`);
  return git as unknown as ExperimentRecord["git"];
}

function dependenciesOf(value: unknown): ExperimentRecord["dependencies"] {
  const dependencies = object(value ?? {}, "dependencies");
  for (const [name, info] of Object.entries(dependencies)) fields(object(info, `dependencies.${name}`), `dependencies.${name}`, DEPENDENCY_FIELDS);
  return dependencies as ExperimentRecord["dependencies"];
}

// Fields in range, so that every match is a valid date (new Date(x).toISOString() never throws).
const ISO_UTC = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?Z$/;
const HEX_ID = /^[0-9a-f]{32}$/;

/**
 * The common case, checked without building any message: a record has thousands of checkpoints
 * and a listing reads thousands of records. Accepts a subset of what `checkpoint` accepts (ISO
 * times as Cairn writes them); anything else goes the slow way, which names the problem.
 */
function wellFormedCheckpoint(raw: unknown): CheckpointRecord | null {
  if (!isWellFormedCheckpoint(raw)) return null;
  const c = raw as Record<string, unknown>;
  const primary = c.primaryMetric as { name: string; goal: "minimize" | "maximize" } | null | undefined;
  const tree = c.tree as { sha256: string; files: number; bytes: number } | null | undefined;
  return {
    id: c.id as string,
    step: c.step as number,
    created: c.created as string,
    metrics: c.metrics as CheckpointRecord["metrics"],
    primaryMetric: primary == null ? null : { name: primary.name, goal: primary.goal },
    path: (c.path as string | null | undefined) ?? null,
    tree: tree == null ? null : { sha256: tree.sha256, files: tree.files, bytes: tree.bytes },
  };
}

/** wellFormedCheckpoint's test, with nothing built. */
function isWellFormedCheckpoint(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null) return false;
  const c = raw as Record<string, unknown>;
  if (typeof c.id !== "string" || !HEX_ID.test(c.id)) return false;
  if (!isCount(c.step)) return false;
  // The pattern alone would let "2026-13-45T99:99:99Z" through, which no Date can hold.
  if (typeof c.created !== "string" || !ISO_UTC.test(c.created) || Number.isNaN(Date.parse(c.created))) return false;
  const metrics = c.metrics;
  if (typeof metrics !== "object" || metrics === null || Array.isArray(metrics)) return false;
  for (const name in metrics) if (!isStoredMetric((metrics as Record<string, unknown>)[name])) return false;
  const primary = c.primaryMetric as { name?: unknown; goal?: unknown } | null | undefined;
  if (primary != null && (typeof primary !== "object" || typeof primary.name !== "string" || (primary.goal !== "minimize" && primary.goal !== "maximize"))) return false;
  if (c.path != null && typeof c.path !== "string") return false;
  return c.tree == null || isTree(c.tree);
}

function checkpoint(value: unknown, index: number): CheckpointRecord {
  const fast = wellFormedCheckpoint(value);
  if (fast) return fast;
  const what = `checkpoints[${index}]`;
  const raw = object(value, what);
  if (!isId(raw.id)) fail(`${what}.id is not a 32-digit hex ID`);
  const metrics = object(raw.metrics ?? {}, `${what}.metrics`);
  for (const [name, metric] of Object.entries(metrics)) if (!isStoredMetric(metric)) fail(`${what}.metrics.${name} is not a number`);
  let primaryMetric: CheckpointRecord["primaryMetric"] = null;
  if (raw.primaryMetric !== null && raw.primaryMetric !== undefined) {
    const primary = object(raw.primaryMetric, `${what}.primaryMetric`);
    const goal = primary.goal;
    if (goal !== "minimize" && goal !== "maximize") fail(`${what}.primaryMetric.goal is not "minimize" or "maximize"`);
    primaryMetric = { name: string(primary.name, `${what}.primaryMetric.name`), goal };
  }
  return {
    id: raw.id,
    step: count(raw.step, `${what}.step`),
    created: date(raw.created, `${what}.created`),
    metrics: metrics as CheckpointRecord["metrics"],
    primaryMetric,
    path: nullableString(raw.path, `${what}.path`),
    tree: treeRef(raw.tree, `${what}.tree`),
  };
}

/** The fields a record and its summary share, checked; `checkpoints` is left to the caller. */
function baseFields(raw: Record<string, unknown>, key: string, what: string): Omit<ExperimentRecord, "checkpoints"> {
  if (typeof raw.format === "number" && raw.format > 1) {
    throw new CairnError("FORMAT_TOO_NEW", `${what} ${key} uses format ${raw.format}, newer than this Cairn reads (1). Upgrade Cairn: npm install cairn@latest.`, { details: { key } });
  }
  if (raw.format !== 1) fail(`"format" is ${JSON.stringify(raw.format)}, expected 1`);
  if (!isId(raw.id)) fail(`"id" is not a 32-digit hex ID`);
  if (!key.includes(raw.id)) fail(`"id" ${raw.id} does not match the object's name`);
  const environment = environmentOf(raw.environment);
  const interval = raw.heartbeatIntervalMs;
  if (typeof interval !== "number" || !(interval > 0)) fail(`"heartbeatIntervalMs" is not a positive number`);
  return {
    format: 1,
    id: raw.id,
    created: date(raw.created, "created"),
    params: (raw.params ?? null) as ExperimentRecord["params"],
    path: string(raw.path ?? "", "path"),
    code: treeRef(raw.code, "code"),
    environment,
    git: gitOf(raw.git),
    dependencies: dependenciesOf(raw.dependencies),
    heartbeatIntervalMs: interval,
    stopped: raw.stopped === null || raw.stopped === undefined ? null : date(raw.stopped, "stopped"),
    updated: date(raw.updated ?? raw.created, "updated"),
  };
}

/** Turns a failed check into CairnError("CORRUPT") naming the object. */
function corrupt(error: unknown, what: string, key: string): unknown {
  if (error instanceof Invalid || error instanceof SyntaxError) {
    return new CairnError("CORRUPT", `${what} ${key} is corrupt: ${error.message}. Run "cairn verify" to check the whole repository.`, { cause: error, details: { key } });
  }
  return error;
}

/**
 * Parses and checks an experiment record; throws CairnError("CORRUPT") naming the key.
 *
 * @example
 * const record = parseExperimentRecord(bytes, "experiments/e51….json");
 */
export function parseExperimentRecord(bytes: Buffer | string, key: string): ExperimentRecord {
  try {
    const raw = object(JSON.parse(bytes.toString()), "the record");
    const base = baseFields(raw, key, "Experiment record");
    const checkpoints = raw.checkpoints ?? [];
    if (!Array.isArray(checkpoints)) fail(`"checkpoints" is not a list`);
    return { ...base, checkpoints: checkpoints.map(checkpoint) };
  } catch (error) {
    throw corrupt(error, "Experiment record", key);
  }
}

/**
 * Parses and checks an experiment summary (`summaries/<id>.json`); throws CairnError("CORRUPT")
 * naming the key. Readers that meet a corrupt summary fall back to the record.
 *
 * @example
 * const summary = parseExperimentSummary(bytes, "summaries/e51….json");
 */
export function parseExperimentSummary(bytes: Buffer | string, key: string): ExperimentSummary {
  try {
    const parsed: unknown = JSON.parse(bytes.toString());
    return canonicalSummary(parsed, key) ?? summaryOf(object(parsed, "the summary"), key);
  } catch (error) {
    throw corrupt(error, "Experiment summary", key);
  }
}

/**
 * parseExperimentSummary, and whether `bytes` parsed as they are give exactly the summary
 * returned (the same keys in the same order, the same values), as the summaries Cairn writes do.
 * A cache of summaries may then keep those bytes instead of serialising the summary again,
 * which for 10,000 summaries costs more than reading them (summary-cache-store.ts).
 *
 * @example
 * const { summary, exact } = parseExperimentSummaryBytes(bytes, "summaries/e51….json");
 */
export function parseExperimentSummaryBytes(bytes: Buffer | string, key: string): { summary: ExperimentSummary; exact: boolean } {
  try {
    const parsed: unknown = JSON.parse(bytes.toString());
    const canonical = canonicalSummary(parsed, key);
    if (canonical !== null) return { summary: canonical, exact: true };
    const summary = summaryOf(object(parsed, "the summary"), key);
    return { summary, exact: sameJson(parsed, summary) };
  } catch (error) {
    throw corrupt(error, "Experiment summary", key);
  }
}

function summaryOf(raw: Record<string, unknown>, key: string): ExperimentSummary {
  const base = baseFields(raw, key, "Experiment summary");
  const checkpointCount = count(raw.checkpointCount, "checkpointCount");
  const latest = raw.latest === null || raw.latest === undefined ? null : checkpoint(raw.latest, checkpointCount - 1);
  if ((latest === null) !== (checkpointCount === 0)) fail(`"latest" does not agree with "checkpointCount"`);
  let best: ExperimentSummary["best"] = null;
  if (raw.best !== null && raw.best !== undefined) {
    const entry = object(raw.best, "best");
    const index = count(entry.index, "best.index");
    if (index >= checkpointCount) fail(`"best.index" is beyond the last checkpoint`);
    best = { index, checkpoint: checkpoint(entry.checkpoint, index) };
  }
  let primaryMetric: ExperimentSummary["primaryMetric"] = null;
  if (raw.primaryMetric !== null && raw.primaryMetric !== undefined) {
    const primary = object(raw.primaryMetric, "primaryMetric");
    if (primary.goal !== "minimize" && primary.goal !== "maximize") fail(`primaryMetric.goal is not "minimize" or "maximize"`);
    primaryMetric = { name: string(primary.name, "primaryMetric.name"), goal: primary.goal };
  }
  // Spelled out rather than spread: a listing builds 10,000 of these, and spreading costs more.
  return {
    format: base.format,
    id: base.id,
    created: base.created,
    params: base.params,
    path: base.path,
    code: base.code,
    environment: base.environment,
    git: base.git,
    dependencies: base.dependencies,
    heartbeatIntervalMs: base.heartbeatIntervalMs,
    stopped: base.stopped,
    updated: base.updated,
    checkpointCount,
    primaryMetric,
    best,
    latest,
  };
}

/** The keys of a summary, in the order summaryOf builds them (and Cairn writes them). */
const SUMMARY_KEYS = ["format", "id", "created", "params", "path", "code", "environment", "git", "dependencies", "heartbeatIntervalMs", "stopped", "updated", "checkpointCount", "primaryMetric", "best", "latest"] as const;
const CHECKPOINT_KEYS = ["id", "step", "created", "metrics", "primaryMetric", "path", "tree"] as const;
const TREE_KEYS = ["sha256", "files", "bytes"] as const;
const PRIMARY_KEYS = ["name", "goal"] as const;
const BEST_KEYS = ["index", "checkpoint"] as const;

/**
 * `parsed` itself, when it is already exactly the summary summaryOf would build from it: every
 * key in summaryOf's order, every value one it keeps as it is (what Cairn writes). Checked in
 * place, so nothing is rebuilt and nothing compared afterwards: a cold listing parses 10,000
 * summaries, and rebuilding each and comparing it with what it came from (sameJson) was a
 * tenth of that work. Null when summaryOf must decide: it normalises what it can and names
 * what is wrong. test/repository/validate-summary.test.ts holds the two ways to each other.
 */
function canonicalSummary(parsed: unknown, key: string): ExperimentSummary | null {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !hasKeys(parsed, SUMMARY_KEYS)) return null;
  const raw = parsed as Record<string, unknown>;
  if (raw.format !== 1 || typeof raw.id !== "string" || !HEX_ID.test(raw.id) || !key.includes(raw.id)) return null;
  if (!isDate(raw.created) || typeof raw.path !== "string" || !(raw.code === null || canonicalTree(raw.code))) return null;
  if (!isPlainObject(raw.environment) || !isPlainObject(raw.dependencies) || !(raw.git === null || isPlainObject(raw.git))) return null;
  const interval = raw.heartbeatIntervalMs;
  if (typeof interval !== "number" || !(interval > 0)) return null;
  if (!(raw.stopped === null || isDate(raw.stopped)) || !isDate(raw.updated) || !isCount(raw.checkpointCount)) return null;
  if (!(raw.primaryMetric === null || canonicalPrimary(raw.primaryMetric))) return null;
  const count = raw.checkpointCount;
  if (raw.latest === null ? count !== 0 : count === 0 || !canonicalCheckpoint(raw.latest)) return null;
  const best = raw.best as Record<string, unknown> | null;
  if (best !== null && !(isPlainObject(best) && hasKeys(best, BEST_KEYS) && isCount(best.index) && best.index < count && canonicalCheckpoint(best.checkpoint))) return null;
  try {
    // These check in place and return what they were given (a summary's params are any JSON).
    environmentOf(raw.environment);
    gitOf(raw.git);
    dependenciesOf(raw.dependencies);
  } catch {
    return null;
  }
  return raw as unknown as ExperimentSummary;
}

/** A checkpoint as wellFormedCheckpoint would rebuild it, key for key. */
function canonicalCheckpoint(value: unknown): boolean {
  if (!isPlainObject(value) || !hasKeys(value, CHECKPOINT_KEYS) || !isWellFormedCheckpoint(value)) return false;
  return (value.primaryMetric === null || canonicalPrimary(value.primaryMetric)) && (value.path === null || typeof value.path === "string") && (value.tree === null || canonicalTree(value.tree));
}

function canonicalTree(value: unknown): boolean {
  return isTree(value) && hasKeys(value, TREE_KEYS);
}

/** A tree reference's fields, whatever their order: what treeRef accepts. */
function isTree(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && isSha256(value.sha256) && isCount(value.files) && isCount(value.bytes);
}

function canonicalPrimary(value: unknown): boolean {
  return isPlainObject(value) && hasKeys(value, PRIMARY_KEYS) && typeof value.name === "string" && (value.goal === "minimize" || value.goal === "maximize");
}

/** Whether `value` has exactly `names` as its keys, in that order (no array made: 10,000 summaries). */
function hasKeys(value: object, names: readonly string[]): boolean {
  let i = 0;
  for (const name in value) {
    if (name !== names[i]) return false;
    i++;
  }
  return i === names.length;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** What `date` accepts. */
function isDate(value: unknown): value is string {
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}

/**
 * Whether two JSON values are the same, keys in the same order. Cheap on a checked record or
 * summary and what it was parsed from: they share most objects (params, environment, metrics).
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  const others = Object.keys(b);
  if (keys.length !== others.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i]!;
    if (name !== others[i] || !sameJson((a as Record<string, unknown>)[name], (b as Record<string, unknown>)[name])) return false;
  }
  return true;
}

/** One chunk of a chunk list: `{sha256, size}`, or `{sha256, size, pack, offset}` (both or neither: a reader could not tell where the bytes are). */
function chunkRef(value: unknown, where: string): ChunkRef {
  const raw = object(value, where);
  if (!isSha256(raw.sha256)) fail(`${where}.sha256 is not a SHA-256`);
  const size = count(raw.size, `${where}.size`);
  if (raw.pack === undefined && raw.offset === undefined) return { sha256: raw.sha256, size };
  if (!isSha256(raw.pack)) fail(`${where}.pack is not a SHA-256`);
  return { sha256: raw.sha256, size, pack: raw.pack, offset: count(raw.offset, `${where}.offset`) };
}

/**
 * A chunk list as trees list it (and spools keep it: chunk-lists.ts), or null when it is not one.
 *
 * @example
 * parseChunkList(JSON.parse(text)); // [{ sha256: "ab…", size: 1412345, pack: "9f…", offset: 0 }]
 */
export function parseChunkList(value: unknown): ChunkRef[] | null {
  try {
    if (!Array.isArray(value)) fail("not a list");
    return value.map((chunk, index) => chunkRef(chunk, `chunks[${index}]`));
  } catch (error) {
    if (error instanceof Invalid) return null;
    throw error;
  }
}

/**
 * Parses and checks a tree object: every path must be a safe relative path, sizes and hashes
 * well formed, no path twice.
 *
 * @example
 * const tree = parseTree(bytes, "objects/ab/ab12…");
 */
export function parseTree(bytes: Buffer | string, key: string): Tree {
  try {
    const raw = object(JSON.parse(bytes.toString()), "the tree");
    if (!Array.isArray(raw.files)) fail(`"files" is not a list`);
    const seen = new Set<string>();
    const files = raw.files.map((value, index): TreeEntry => {
      const entry = object(value, `files[${index}]`);
      const filePath = string(entry.path, `files[${index}].path`);
      const problem = checkRelativePath(filePath);
      if (problem) fail(`files[${index}].path ${JSON.stringify(filePath)} ${problem}`);
      if (seen.has(filePath)) fail(`files[${index}].path ${JSON.stringify(filePath)} appears twice`);
      seen.add(filePath);
      if (!isSha256(entry.sha256)) fail(`files[${index}].sha256 is not a SHA-256`);
      const mode = entry.mode === undefined ? 0o644 : count(entry.mode, `files[${index}].mode`);
      if (mode !== 0o644 && mode !== 0o755) fail(`files[${index}].mode is neither 0644 nor 0755`);
      const parsed: TreeEntry = { path: filePath, size: count(entry.size, `files[${index}].size`), sha256: entry.sha256, mode };
      if (entry.chunks !== undefined) {
        if (!Array.isArray(entry.chunks)) fail(`files[${index}].chunks is not a list`);
        parsed.chunks = entry.chunks.map((chunk, c) => chunkRef(chunk, `files[${index}].chunks[${c}]`));
        const total = parsed.chunks.reduce((sum, chunk) => sum + chunk.size, 0);
        if (total !== parsed.size) fail(`files[${index}].chunks add up to ${total} bytes, not ${parsed.size}`);
      }
      return parsed;
    });
    return { files };
  } catch (error) {
    if (error instanceof Invalid || error instanceof SyntaxError) {
      throw new CairnError("CORRUPT", `Tree object ${key} is corrupt: ${error.message}.`, { cause: error, details: { key } });
    }
    throw error;
  }
}
