/**
 * The shapes stored in a repository. docs/FORMAT.md describes them for people; keep both in step.
 */

/** A JSON value, as params may be any of these. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A metric value as stored: finite numbers as numbers, the rest as these strings. */
export type StoredMetric = number | "NaN" | "Infinity" | "-Infinity";

export type Goal = "minimize" | "maximize";

export interface PrimaryMetric {
  name: string;
  goal: Goal;
}

/** One file in a tree object. `mode` keeps the executable bit (0o644 or 0o755). */
export interface TreeEntry {
  path: string; // POSIX, relative, no "." or ".." segments
  size: number;
  sha256: string; // of the whole file
  mode: number;
  /** Large files may be stored as content-addressed chunks, in order (format 1 reserves this). */
  chunks?: ChunkRef[];
}

/**
 * One chunk of a chunked file: its SHA-256 and size, and where its bytes are. Without `pack`,
 * the chunk is the object `objects/<aa>/<sha256>` (format 1.1). With `pack` (format 1.2), it is
 * the `size` bytes at `offset` of the object named `pack`, which holds a run of chunks written
 * together (see packs.ts): one request reads several chunks.
 */
export interface ChunkRef {
  sha256: string;
  size: number;
  pack?: string;
  offset?: number;
}

/** A tree object: the list of files of a checkpoint or a code snapshot. */
export interface Tree {
  files: TreeEntry[];
}

/** A reference from a record to a tree object, with totals for listings. */
export interface TreeRef {
  sha256: string;
  files: number;
  bytes: number;
}

export interface CheckpointRecord {
  id: string;
  step: number;
  created: string; // ISO 8601
  metrics: Record<string, StoredMetric>;
  primaryMetric: PrimaryMetric | null;
  /** The path given to checkpoint(), relative to the project; null for metrics only. */
  path: string | null;
  tree: TreeRef | null;
}

export interface GitInfo {
  commit: string | null;
  branch: string | null;
  dirty: boolean;
  /** sha256 of a blob object holding `git diff HEAD` output; null when clean. */
  diff: string | null;
  diffBytes: number;
  remote: string | null; // credentials stripped
}

export interface EnvironmentInfo {
  user: string;
  host: string;
  command: string[];
  workingDirectory: string;
  node: string;
  os: string; // e.g. "linux 6.1.0"
  arch: string;
  cpu: string;
  cpus: number;
  memoryBytes: number;
  gpus: { name: string; memory: string | null; driver: string | null }[];
  /** Extra runtimes recorded by bindings, e.g. { python: "3.11.2" }. */
  runtimes: Record<string, string>;
}

export interface DependencyInfo {
  /** Where it was declared: "package.json", "requirements.txt", "imported" (Python binding)... */
  source: string;
  declared: string | null;
  installed: string | null;
}

export interface ExperimentRecord {
  format: 1;
  id: string;
  created: string;
  params: Json;
  /** The project path given to init(), absolute as seen by the writer. */
  path: string;
  code: TreeRef | null;
  environment: EnvironmentInfo;
  git: GitInfo | null;
  dependencies: Record<string, DependencyInfo>;
  heartbeatIntervalMs: number;
  checkpoints: CheckpointRecord[];
  /** Set when stop() ran or the process ended normally. */
  stopped: string | null;
  /** Last time the writer flushed this record. */
  updated: string;
}

export type ExperimentStatus = "running" | "stopped" | "crashed";

/**
 * `summaries/<id>.json`: an experiment record without its checkpoint list, plus what a listing
 * shows of the checkpoints. Derived from the record by its writer (see summary.ts).
 */
export interface ExperimentSummary extends Omit<ExperimentRecord, "checkpoints"> {
  checkpointCount: number;
  /** As `primaryMetricOf` the whole list: declared by the most recent checkpoint that declares one. */
  primaryMetric: PrimaryMetric | null;
  /** The best checkpoint by the primary metric and its index in the record's list, or null. */
  best: { index: number; checkpoint: CheckpointRecord } | null;
  /** The last checkpoint (index `checkpointCount - 1`), or null when there are none. */
  latest: CheckpointRecord | null;
}
