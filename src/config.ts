import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { CairnError } from "./errors.js";

export const CONFIG_FILE = "cairn.yaml";

/** The YAML parser is loaded only when there is a cairn.yaml to read: most runs have none. */
function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return parse(text);
}
export const DEFAULT_REPOSITORY_DIRECTORY = ".cairn";

/** What `cairn.yaml` may hold. Nothing secret belongs here; credentials come from each SDK. */
export interface ProjectConfig {
  repository?: string;
  /** Storage settings for S3-compatible endpoints and the like (see the storage drivers). */
  storage?: Record<string, unknown>;
}

export interface ResolvedProject {
  /** The project directory: where cairn.yaml is, else where .cairn/ was found, else the start. */
  directory: string;
  /** The repository URL or path (relative paths already resolved against `directory`). */
  repository: string;
  /** Where the repository setting came from, for messages and `cairn show --config`. */
  source: "option" | "CAIRN_REPOSITORY" | "cairn.yaml" | "default";
  config: ProjectConfig;
  configFile: string | null;
}

function findUp(start: string, name: string, kind: "file" | "directory"): string | null {
  let current = path.resolve(start);
  for (;;) {
    const candidate = path.join(current, name);
    try {
      const stats = statSync(candidate);
      if (kind === "file" ? stats.isFile() : stats.isDirectory()) return candidate;
    } catch {
      // keep walking up
    }
    const parent = path.dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/**
 * Reads a cairn.yaml, with errors that name the file and the problem.
 *
 * @example
 * readConfig("/home/ana/project/cairn.yaml"); // { repository: "s3://bucket/prefix" }
 */
export function readConfig(file: string): ProjectConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CairnError("CONFIG", `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new CairnError("CONFIG", `${file} must be a YAML mapping such as "repository: .cairn".`);
  const config = raw as Record<string, unknown>;
  if (config.repository !== undefined && (typeof config.repository !== "string" || config.repository.trim() === "")) {
    throw new CairnError("CONFIG", `"repository" in ${file} must be a non-empty string such as ".cairn" or "s3://bucket/prefix".`);
  }
  return config as ProjectConfig;
}

/**
 * Finds the project and its repository: `repository` option (the CLI's -R), else
 * CAIRN_REPOSITORY, else `repository:` in the nearest cairn.yaml walking up from `start`, else
 * the nearest existing `.cairn/` walking up, else `.cairn/` in `start`.
 *
 * @example
 * const { repository, directory } = resolveProject({ start: process.cwd() });
 */
export function resolveProject(options: { start?: string; repository?: string } = {}): ResolvedProject {
  const start = path.resolve(options.start ?? process.cwd());
  const configFile = findUp(start, CONFIG_FILE, "file");
  const config = configFile ? readConfig(configFile) : {};
  const cairnDirectory = configFile ? null : findUp(start, DEFAULT_REPOSITORY_DIRECTORY, "directory");
  const directory = configFile ? path.dirname(configFile) : cairnDirectory ? path.dirname(cairnDirectory) : start;
  const resolve = (url: string, base: string): string => (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url) ? url : path.resolve(base, url));
  if (options.repository) return { directory, repository: resolve(options.repository, process.cwd()), source: "option", config, configFile };
  const fromEnvironment = process.env.CAIRN_REPOSITORY;
  if (fromEnvironment) return { directory, repository: resolve(fromEnvironment, process.cwd()), source: "CAIRN_REPOSITORY", config, configFile };
  if (config.repository) return { directory, repository: resolve(config.repository, directory), source: "cairn.yaml", config, configFile };
  return { directory, repository: path.join(directory, DEFAULT_REPOSITORY_DIRECTORY), source: "default", config, configFile };
}

/** True when a directory already has a cairn.yaml (for `cairn init`). */
export function hasConfig(directory: string): boolean {
  return existsSync(path.join(directory, CONFIG_FILE));
}
