import { readFile } from "node:fs/promises";
import path from "node:path";
import type { DependencyInfo } from "../repository/types.js";
import { stripUrlCredentials } from "./url.js";

const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "optionalDependencies"] as const;

/** npm names, possibly scoped; anything else (e.g. "../x") must not become a path to read. */
const NPM_NAME = /^(?:@[^/@\s]+\/)?[^/@\s][^/\s]*$/;

/**
 * Records the declared and installed versions of a project's dependencies: those of the nearest
 * `package.json` at or above `directory` (installed versions read from `node_modules`, resolved
 * upward as Node does), plus `requirements.txt` in `directory` itself. Never throws: a missing
 * or malformed file contributes nothing.
 *
 * Keys are package names. When a name appears twice, the first declaration wins, in this order:
 * dependencies, devDependencies, optionalDependencies, requirements.txt.
 *
 * @example
 * const dependencies = await captureDependencies(process.cwd());
 * dependencies["yaml"]; // { source: "package.json", declared: "^2.9.1", installed: "2.9.1" }
 */
export async function captureDependencies(directory: string): Promise<Record<string, DependencyInfo>> {
  const start = path.resolve(directory);
  const result: Record<string, DependencyInfo> = {};
  try {
    await addPackageJson(start, result);
  } catch {
    // Best effort: dependencies describe a run, they must not stop it.
  }
  try {
    await addRequirements(start, result);
  } catch {
    // as above
  }
  return result;
}

async function addPackageJson(start: string, result: Record<string, DependencyInfo>): Promise<void> {
  const found = await findUp(start, "package.json");
  if (found === null) return;
  const manifest = parseJsonObject(found.text);
  if (manifest === null) return;

  const declared: [string, string | null][] = [];
  for (const field of DEPENDENCY_FIELDS) {
    const section = manifest[field];
    if (section === null || typeof section !== "object" || Array.isArray(section)) continue;
    for (const [name, spec] of Object.entries(section as Record<string, unknown>)) {
      if (!NPM_NAME.test(name) || declared.some(([seen]) => seen === name)) continue;
      declared.push([name, typeof spec === "string" ? stripUrlCredentials(spec) : null]);
    }
  }
  const installed = await Promise.all(declared.map(([name]) => installedVersion(found.directory, name)));
  declared.forEach(([name, spec], index) => {
    result[name] = { source: "package.json", declared: spec, installed: installed[index] ?? null };
  });
}

/** Like Node's resolution: node_modules/<name> in the folder, then in each parent folder. */
async function installedVersion(from: string, name: string): Promise<string | null> {
  for (let directory = from; ; directory = path.dirname(directory)) {
    const text = await readText(path.join(directory, "node_modules", ...name.split("/"), "package.json"));
    if (text !== null) {
      const version = parseJsonObject(text)?.version;
      return typeof version === "string" ? version : null;
    }
    if (path.dirname(directory) === directory) return null;
  }
}

async function addRequirements(directory: string, result: Record<string, DependencyInfo>): Promise<void> {
  const raw = await readBytes(path.join(directory, "requirements.txt"));
  if (raw === null) return;
  for (const [name, spec] of parseRequirements(decodeText(raw))) {
    if (result[name] !== undefined) continue;
    result[name] = { source: "requirements.txt", declared: spec, installed: null };
  }
}

/**
 * Reads the requirement lines pip understands well enough to name a package: `name`,
 * `name==1.2`, `name[extra]>=1,<2; marker`, `name @ url`. Options (`-r`, `-e`, `--index-url`)
 * and bare paths or URLs are skipped: they name no package we could report on.
 * Exported for tests only.
 *
 * @example
 * parseRequirements("torch==2.1.0\ntqdm\n-r dev.txt\n"); // [["torch", "==2.1.0"], ["tqdm", null]]
 */
export function parseRequirements(text: string): [name: string, specifier: string | null][] {
  const requirements: [string, string | null][] = [];
  // A trailing backslash continues the line, as in pip.
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const rawLine of lines) {
    // "#" starts a comment at the start of a line or after whitespace (URLs may hold "#egg=").
    const line = rawLine.replace(/(^|\s)#.*$/, "").trim();
    if (line === "" || line.startsWith("-")) continue;
    const match = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(.*)$/.exec(line);
    if (!match) continue;
    const name = match[1]!;
    // Per-requirement options such as --hash come after the specifier; markers after ";".
    let spec = (match[2] ?? "").replace(/\s--?\w[\w-]*(?:[=\s]\S+)?/g, "").split(";")[0]!.trim();
    if (spec.startsWith("/") || spec.startsWith(":") || (spec !== "" && !/^(?:[<>=!~]|@)/.test(spec))) continue;
    spec = stripUrlCredentials(spec);
    requirements.push([name, spec === "" ? null : spec]);
  }
  return requirements;
}

async function findUp(start: string, fileName: string): Promise<{ directory: string; text: string } | null> {
  for (let directory = start; ; directory = path.dirname(directory)) {
    const text = await readText(path.join(directory, fileName));
    if (text !== null) return { directory, text };
    if (path.dirname(directory) === directory) return null;
  }
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text.replace(/^\uFEFF/, ""));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function readText(file: string): Promise<string | null> {
  const bytes = await readBytes(file);
  return bytes === null ? null : bytes.toString("utf8");
}

async function readBytes(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch {
    // Absent, a folder, unreadable: all mean "nothing to record here".
    return null;
  }
}

/** `pip freeze > requirements.txt` in Windows PowerShell writes UTF-16 with a byte order mark. */
function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const swapped = Buffer.from(bytes.subarray(2, bytes.length - (bytes.length % 2)));
    swapped.swap16();
    return swapped.toString("utf16le");
  }
  return bytes.toString("utf8").replace(/^\uFEFF/, "");
}
