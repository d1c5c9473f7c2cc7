/**
 * What differs between experiments and checkpoints: the computation behind `cairn diff`, kept
 * free of I/O and printing so the web UI can show the same thing. `diffSubjectOf` gathers the
 * facts of one experiment or checkpoint (it reads the code tree); `diffSubjects` compares them.
 */
import { flattenParams, type QueryValue } from "../query/index.js";
import type { DependencyInfo, EnvironmentInfo, GitInfo, Json, TreeEntry } from "../repository/types.js";
import { Checkpoint } from "./checkpoint.js";
import type { Experiment } from "./experiment.js";
import type { Repository } from "./repository.js";

/** The facts of one side of a diff: an experiment, or one checkpoint with its experiment's facts. */
export interface DiffSubject {
  /** The ID given (full form): an experiment's or a checkpoint's. */
  id: string;
  kind: "experiment" | "checkpoint";
  experimentId: string;
  /** The checkpoint the metrics come from, or null when there is none. */
  checkpointId: string | null;
  /** "checkpoint" when the ID named one; else "best" (by the primary metric) or "latest". */
  metricsFrom: "checkpoint" | "best" | "latest" | null;
  step: number | null;
  params: Json;
  metrics: Record<string, number>;
  environment: EnvironmentInfo;
  git: GitInfo | null;
  dependencies: Record<string, DependencyInfo>;
  codeFiles: TreeEntry[];
}

/** One key whose values are not all equal; `values[i]` belongs to subject i (undefined: absent). */
export interface ValueDifference {
  key: string;
  values: (QueryValue | undefined)[];
}

/** A code file that is not the same in every subject, compared by path and SHA-256. */
export interface FileDifference {
  path: string;
  /** Relative to the first subject: missing there ("added"), missing in another ("removed"), or present everywhere with other contents ("changed"). */
  change: "added" | "removed" | "changed";
  /** Per subject: the file's SHA-256, or null when it has no file at this path. */
  sha256: (string | null)[];
  size: (number | null)[];
}

/** Everything that differs, section by section; empty sections mean "the same everywhere". */
export interface Differences {
  subjects: { id: string; kind: "experiment" | "checkpoint"; experimentId: string; checkpointId: string | null; metricsFrom: DiffSubject["metricsFrom"]; step: number | null }[];
  params: ValueDifference[];
  metrics: ValueDifference[];
  /** Environment fields (user, host, node, os, …) and git fields (git.commit, git.dirty, …). */
  environment: ValueDifference[];
  /** Per dependency name: the installed version, with the declared range when it says more. */
  dependencies: ValueDifference[];
  code: FileDifference[];
}

/**
 * Params flattened to dotted keys for comparing and for table columns. Like `flattenParams`
 * without the prefix and without the per-element keys of arrays: an array is compared as a
 * whole (its compact JSON), so `layers: [64, 64]` is one column, not three.
 *
 * @example
 * flatParams({ lr: 0.01, model: { layers: [64, 64] } }); // { lr: 0.01, "model.layers": "[64,64]" }
 */
export function flatParams(params: unknown): Record<string, QueryValue> {
  const all = flattenParams(params, "");
  const arrays: string[] = [];
  const visit = (value: unknown, key: string): void => {
    if (Array.isArray(value)) {
      if (key !== "") arrays.push(key);
      return; // elements are folded into the array's own key
    }
    if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      for (const [name, item] of Object.entries(value)) visit(item, key === "" ? name : `${key}.${name}`);
    }
  };
  visit(params, "");
  const out: Record<string, QueryValue> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!arrays.some((array) => key.startsWith(`${array}.`))) out[key] = value;
  }
  return out;
}

function same(a: QueryValue | undefined, b: QueryValue | undefined): boolean {
  return Object.is(a, b) || (a === 0 && b === 0);
}

/**
 * The keys, in order of first appearance, whose values are not equal in every record (a key
 * missing from some records differs). NaN equals NaN here.
 *
 * @example
 * differingKeys([{ lr: 0.1, seed: 1 }, { lr: 0.2, seed: 1 }]); // ["lr"]
 */
export function differingKeys(records: Record<string, QueryValue | undefined>[]): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys].filter((key) => {
    const first = records[0]?.[key];
    return records.some((record) => !(key in record) || !same(record[key], first));
  });
}

function differences(records: Record<string, QueryValue | undefined>[]): ValueDifference[] {
  return differingKeys(records).map((key) => ({ key, values: records.map((record) => record[key]) }));
}

/** The environment and git fields as one flat record (command joined, GPUs by name). */
function environmentFields(subject: DiffSubject): Record<string, QueryValue> {
  const environment = subject.environment ?? ({} as Partial<EnvironmentInfo>);
  const { command, gpus, runtimes, ...rest } = environment;
  const fields: Record<string, unknown> = {
    ...rest,
    ...(command === undefined ? {} : { command: command.join(" ") }),
    ...(gpus === undefined ? {} : { gpus: gpus.length === 0 ? "none" : gpus.map((g) => g.name).join(", ") }),
    ...(runtimes === undefined ? {} : { runtimes }),
  };
  if (subject.git) {
    const { diff: _diff, diffBytes: _bytes, ...git } = subject.git;
    fields.git = git;
  }
  return flatParams(fields);
}

function dependencyFields(subject: DiffSubject): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const [name, info] of Object.entries(subject.dependencies ?? {})) {
    const installed = info.installed ?? "not installed";
    out[name] = info.declared && info.declared !== info.installed ? `${installed} (declared ${info.declared})` : installed;
  }
  return out;
}

function sortedKeys(differences: ValueDifference[]): ValueDifference[] {
  return [...differences].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function codeDifferences(subjects: DiffSubject[]): FileDifference[] {
  const maps = subjects.map((s) => new Map(s.codeFiles.map((f) => [f.path, f])));
  const paths = [...new Set(subjects.flatMap((s) => s.codeFiles.map((f) => f.path)))].sort();
  const out: FileDifference[] = [];
  for (const path of paths) {
    const entries = maps.map((map) => map.get(path) ?? null);
    const first = entries[0];
    if (entries.every((entry) => entry !== null && entry.sha256 === first?.sha256)) continue;
    const change = first === null ? "added" : entries.some((entry) => entry === null) ? "removed" : "changed";
    out.push({ path, change, sha256: entries.map((e) => e?.sha256 ?? null), size: entries.map((e) => e?.size ?? null) });
  }
  return out;
}

/**
 * Compares two or more subjects: params (flattened), metrics (of each subject's checkpoint),
 * environment and git fields, dependencies, and code files by path and SHA-256. Only what
 * differs is returned. Pure: no I/O.
 *
 * @example
 * const subjects = await Promise.all(["e510303", "3ccb2f1"].map(async (id) => diffSubjectOf(repository, await repository.resolve(id))));
 * const { params, metrics, code } = diffSubjects(subjects);
 */
export function diffSubjects(subjects: DiffSubject[]): Differences {
  return {
    subjects: subjects.map(({ id, kind, experimentId, checkpointId, metricsFrom, step }) => ({ id, kind, experimentId, checkpointId, metricsFrom, step })),
    params: differences(subjects.map((s) => flatParams(s.params))),
    metrics: sortedKeys(differences(subjects.map((s) => s.metrics))),
    environment: differences(subjects.map(environmentFields)),
    dependencies: sortedKeys(differences(subjects.map(dependencyFields))),
    code: codeDifferences(subjects),
  };
}

/**
 * Gathers the facts of an experiment (metrics of its best checkpoint, else its latest) or of a
 * checkpoint (its own metrics, plus its experiment's params, environment and code).
 *
 * @example
 * const subject = await diffSubjectOf(repository, await repository.resolve("e510303"));
 */
export async function diffSubjectOf(repository: Repository, thing: Experiment | Checkpoint): Promise<DiffSubject> {
  const isCheckpoint = thing instanceof Checkpoint;
  const experiment = isCheckpoint ? await repository.getExperiment(thing.experimentId) : thing;
  const best = experiment.best();
  const checkpoint = isCheckpoint ? thing : (best ?? experiment.latest());
  return {
    id: thing.id,
    kind: isCheckpoint ? "checkpoint" : "experiment",
    experimentId: experiment.id,
    checkpointId: checkpoint?.id ?? null,
    metricsFrom: isCheckpoint ? "checkpoint" : checkpoint === null ? null : checkpoint === best ? "best" : "latest",
    step: checkpoint?.step ?? null,
    params: experiment.params,
    metrics: checkpoint?.metrics ?? {},
    environment: experiment.environment,
    git: experiment.git,
    dependencies: experiment.dependencies,
    codeFiles: await experiment.codeFiles(),
  };
}
