/** The JSON shapes of the API (docs/HTTP-API.md). */

export type Value = string | number | boolean | null;

export interface PrimaryMetric {
  name: string;
  goal: "minimize" | "maximize";
}

export interface TableRow {
  id: string;
  status: Status;
  created: string;
  stopped: string | null;
  user: string | null;
  host: string | null;
  checkpoints: number;
  step: number | null;
  primaryMetric: PrimaryMetric | null;
  params: Record<string, Value>;
  metrics: Record<string, number | string>;
  latest: Record<string, number | string>;
}

export type Status = "running" | "stopped" | "crashed";

export interface Listing {
  total: number;
  matched: number;
  offset: number;
  limit: number;
  columns: { params: string[]; metrics: string[] };
  rows: TableRow[];
  problems: { key: string; experimentId: string | null; message: string }[];
  loadedAt: string;
}

export interface CheckpointJson {
  id: string;
  experimentId: string;
  step: number;
  created: string;
  metrics: Record<string, number | string>;
  primaryMetric: PrimaryMetric | null;
  path: string | null;
  files: number;
  bytes: number;
}

export interface TreeEntry {
  path: string;
  size: number;
  sha256: string;
  mode: number;
}

export interface ExperimentJson {
  id: string;
  created: string;
  status: Status;
  stopped: string | null;
  params: unknown;
  path: string;
  code: { sha256: string; files: number; bytes: number } | null;
  environment: {
    user: string;
    host: string;
    command: string[];
    workingDirectory: string;
    node: string;
    os: string;
    arch: string;
    cpu: string;
    cpus: number;
    memoryBytes: number;
    gpus: { name: string; memory: string | null; driver: string | null }[];
    runtimes: Record<string, string>;
  } | null;
  git: { commit: string | null; branch: string | null; dirty: boolean; diff: string | null; diffBytes: number; remote: string | null } | null;
  dependencies: Record<string, { source: string; declared: string | null; installed: string | null }>;
  primaryMetric: PrimaryMetric | null;
  best: CheckpointJson | null;
  latest: CheckpointJson | null;
  checkpoints: CheckpointJson[];
}

export interface Series {
  id: string;
  status: Status;
  count: number;
  from: number;
  step: number[];
  metrics: Record<string, (number | null)[]>;
  primaryMetric: PrimaryMetric | null;
  best: number | null;
}

export interface ValueDifference {
  key: string;
  values: Value[];
}

export interface Comparison {
  experiments: { id: string; status: Status; created: string; primaryMetric: PrimaryMetric | null; best: string | null; checkpoints: number }[];
  differences: {
    subjects: { id: string; checkpointId: string | null; metricsFrom: string | null; step: number | null }[];
    params: ValueDifference[];
    metrics: ValueDifference[];
    environment: ValueDifference[];
    dependencies: ValueDifference[];
    code: { path: string; change: "added" | "removed" | "changed"; sha256: (string | null)[]; size: (number | null)[] }[];
  };
}
