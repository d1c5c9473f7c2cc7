/**
 * Where each thing lives in a repository. docs/FORMAT.md is the human version of this file.
 */

/** The format marker at the repository's root. */
export const FORMAT_KEY = "cairn.json";
/** The major format this build writes; readers refuse a larger major. */
export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 2;

const SHA256 = /^[0-9a-f]{64}$/;
const ID = /^[0-9a-f]{32}$/;

/** `objects/ab/ab12…`: file contents, trees and diffs, named by the SHA-256 of their bytes. */
export function objectKey(sha256: string): string {
  return `objects/${sha256.slice(0, 2)}/${sha256}`;
}

export const EXPERIMENTS_PREFIX = "experiments/";
export const HEARTBEATS_PREFIX = "heartbeats/";
export const OBJECTS_PREFIX = "objects/";
export const SUMMARIES_PREFIX = "summaries/";

/** `experiments/<id>.json`: the experiment's record, written only by the process that runs it. */
export function experimentKey(id: string): string {
  return `${EXPERIMENTS_PREFIX}${id}.json`;
}

/**
 * `summaries/<id>.json`: the record without its checkpoint list (count, best and latest instead),
 * written by the same process right after each record write, so a listing reads kilobytes per
 * experiment instead of the whole history.
 */
export function summaryKey(id: string): string {
  return `${SUMMARIES_PREFIX}${id}.json`;
}

/** The experiment ID in a key of `summaries/`, or null for anything else found there. */
export function summaryIdOfKey(key: string): string | null {
  const match = /^summaries\/([0-9a-f]{32})\.json$/.exec(key);
  return match?.[1] ?? null;
}

/** `heartbeats/<id>`: rewritten every few seconds while the experiment runs. */
export function heartbeatKey(id: string): string {
  return `${HEARTBEATS_PREFIX}${id}`;
}

/** The experiment ID in a key of `experiments/`, or null for anything else found there. */
export function experimentIdOfKey(key: string): string | null {
  const match = /^experiments\/([0-9a-f]{32})\.json$/.exec(key);
  return match?.[1] ?? null;
}

export function heartbeatIdOfKey(key: string): string | null {
  const match = /^heartbeats\/([0-9a-f]{32})$/.exec(key);
  return match?.[1] ?? null;
}

export function objectHashOfKey(key: string): string | null {
  const match = /^objects\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(key);
  return match && match[1]!.startsWith(key.slice(8, 10)) ? match[1]! : null;
}

export function isSha256(value: unknown): value is string {
  return typeof value === "string" && SHA256.test(value);
}

export function isId(value: unknown): value is string {
  return typeof value === "string" && ID.test(value);
}
