import { CairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { FORMAT_KEY, FORMAT_MAJOR, FORMAT_MINOR } from "./layout.js";

export interface FormatMarker {
  format: "cairn";
  version: string; // "MAJOR.MINOR"
}

/**
 * Reads the format marker; null for an empty (never written) repository. Refuses a newer major.
 *
 * @example
 * await checkFormat(storage); // { format: "cairn", version: "1.0" }
 */
export async function checkFormat(storage: Storage, options: { remembered?: FormatMarker | null } = {}): Promise<FormatMarker | null> {
  // A marker seen before is not fetched again: a repeated listing of a remote repository then
  // sends only LIST requests. Records carry their own format number, so a repository upgraded
  // since is still refused when its records are read.
  if (options.remembered) return options.remembered;
  const bytes = await storage.get(FORMAT_KEY);
  if (bytes === null) return null;
  let marker: FormatMarker;
  try {
    marker = JSON.parse(bytes.toString()) as FormatMarker;
  } catch (error) {
    throw new CairnError("CORRUPT", `${FORMAT_KEY} in ${storage.url} is not valid JSON. It should hold {"format":"cairn","version":"1.0"}.`, { cause: error });
  }
  const major = Number(String(marker?.version ?? "").split(".")[0]);
  if (marker?.format !== "cairn" || !Number.isInteger(major)) {
    throw new CairnError("CORRUPT", `${FORMAT_KEY} in ${storage.url} is not a Cairn format marker.`);
  }
  if (major > FORMAT_MAJOR) {
    throw new CairnError(
      "FORMAT_TOO_NEW",
      `The repository ${storage.url} uses format ${marker.version}, newer than this Cairn reads (${FORMAT_MAJOR}.x). Upgrade Cairn: npm install cairn@latest.`,
    );
  }
  return marker;
}

/** Writes the marker if the repository has none (many writers may race; only one wins). */
export async function ensureFormat(storage: Storage): Promise<FormatMarker> {
  const existing = await checkFormat(storage);
  if (existing) return existing;
  const marker: FormatMarker = { format: "cairn", version: `${FORMAT_MAJOR}.${FORMAT_MINOR}` };
  await storage.putIfAbsent(FORMAT_KEY, JSON.stringify(marker) + "\n");
  return (await checkFormat(storage)) ?? marker;
}
