#!/usr/bin/env node
/**
 * `npm run bench`: runs every case in bench/cases/ next to its baseline, in the same run, and
 * prints one table of ratios and absolute figures with the machine they were measured on.
 *
 *   node bench/run.mjs [--quick] [--only NAME[,NAME]] [--runs N] [--dir DIR] [--update-doc] [--json]
 *
 * A case is a file bench/cases/<name>.mjs whose default export is
 *   { name, target, async run(context) → Measurement[] }
 * with context = { quick, runs, directory (a fresh folder for the case), root, cli, dist, log }.
 * A Measurement is
 *   { label, value, unit: "s" | "bytes" | "B/s", baseline?: { label, value },
 *     limit?: { maxRatio?, minRatio?, max?, min? } | null, note? }
 * `limit` is what "meets the target" means (null: a figure shown for information only); ratios
 * are value / baseline.value.
 *
 * Benchmarks are not tests: a missed target is reported, not failed. A case that throws is.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatBytes, formatSeconds } from "./lib.mjs";
import { describeMachine } from "./machine.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const usage = "Usage: node bench/run.mjs [--quick] [--only NAME[,NAME]] [--runs N] [--dir DIR] [--update-doc] [--json] [--keep]";
const { values: options } = parseOrExit(() => parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    runs: { type: "string" },
    dir: { type: "string" },
    "update-doc": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
}));

const cli = path.join(root, "dist", "cli", "main.js");
const dist = pathToFileURL(path.join(root, "dist", "index.js")).href;
try {
  await fs.access(cli);
} catch {
  console.error("bench: dist/ is missing; run `npm run build` first (or use `npm run bench`, which builds).");
  process.exit(2);
}

const cases = await loadCases(options.only).catch((error) => exit(error.message));
if (options.runs !== undefined && !(Number.isInteger(Number(options.runs)) && Number(options.runs) > 0)) exit(`--runs must be a positive whole number; got "${options.runs}".`);
const parent = path.resolve(options.dir ?? os.tmpdir());
// A --dir that does not exist yet is made, as `mkdir -p` would; one that cannot be is a clear error.
const scratch = await fs
  .mkdir(parent, { recursive: true })
  .then(() => fs.mkdtemp(path.join(parent, "cairn-bench-")))
  .catch((error) => exit(`--dir ${parent} cannot hold the benchmark's files (${error.message}); pass a writable folder.`));
const machine = await describeMachine(scratch);
const log = (message) => process.stderr.write(`bench: ${message}\n`);

const rows = [];
let failed = false;
try {
  for (const benchCase of cases) {
    const directory = path.join(scratch, benchCase.name);
    await fs.mkdir(directory);
    log(`${benchCase.name}: running (${options.quick ? "quick" : "full"} sizes)`);
    const started = Date.now();
    try {
      const context = { quick: options.quick, runs: options.runs ? Number(options.runs) : undefined, directory, root, cli, dist, log: (m) => log(`${benchCase.name}: ${m}`) };
      const measurements = await benchCase.run(context);
      for (const measurement of measurements) rows.push(toRow(benchCase, measurement));
    } catch (error) {
      failed = true;
      rows.push({ case: benchCase.name, label: benchCase.name, error: error instanceof Error ? error.stack ?? error.message : String(error) });
      log(`${benchCase.name}: FAILED: ${error instanceof Error ? error.message : error}`);
    } finally {
      if (!options.keep) await fs.rm(directory, { recursive: true, force: true });
    }
    log(`${benchCase.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
} finally {
  if (!options.keep) await fs.rm(scratch, { recursive: true, force: true });
}

// The command that reproduces the table (where it was written to does not matter).
const given = process.argv.slice(2).filter((a) => a !== "--update-doc");
const command = given.length ? `npm run bench -- ${given.join(" ")}` : "npm run bench";
if (options.json) {
  console.log(JSON.stringify({ command, date: new Date().toISOString(), machine: machine.lines, rows }, null, 2));
} else {
  console.log(renderReport({ command, machine, rows }));
}
if (options["update-doc"]) await updateDoc(renderReport({ command, machine, rows }));
process.exitCode = failed ? 1 : 0;

function exit(message) {
  console.error(`bench: ${message}\n${usage}`);
  process.exit(2);
}

function parseOrExit(parse) {
  try {
    return parse();
  } catch (error) {
    return exit(error.message);
  }
}

async function loadCases(only) {
  const folder = path.join(root, "bench", "cases");
  const files = (await fs.readdir(folder)).filter((f) => f.endsWith(".mjs")).sort();
  const loaded = [];
  for (const file of files) {
    const module = await import(pathToFileURL(path.join(folder, file)).href);
    const benchCase = module.default;
    if (!benchCase?.name || typeof benchCase.run !== "function") throw new Error(`bench/cases/${file} must export default { name, target, run(context) }.`);
    loaded.push(benchCase);
  }
  if (!only) return loaded;
  const wanted = only.split(",").map((s) => s.trim()).filter(Boolean);
  // A case's exact name picks that case only (file-dedup is part of subfile-dedup's name); any
  // other word picks every case whose name contains it.
  const exact = (w) => loaded.some((c) => c.name === w);
  const chosen = loaded.filter((c) => wanted.some((w) => (exact(w) ? c.name === w : c.name.includes(w))));
  if (chosen.length === 0) throw new Error(`--only ${only} matches no case; cases: ${loaded.map((c) => c.name).join(", ")}`);
  return chosen;
}

/** One table row: formatted figures, the ratio, and whether the limit holds. */
function toRow(benchCase, m) {
  const format = (value) => (m.unit === "bytes" ? formatBytes(value) : m.unit === "B/s" ? `${formatBytes(value)}/s` : formatSeconds(value));
  const ratio = m.baseline ? m.value / m.baseline.value : null;
  const limit = m.limit ?? {};
  const checks = [];
  if (limit.maxRatio !== undefined) checks.push({ ok: ratio !== null && ratio <= limit.maxRatio, text: `≤ ${limit.maxRatio}x` });
  if (limit.minRatio !== undefined) checks.push({ ok: ratio !== null && ratio >= limit.minRatio, text: `≥ ${limit.minRatio}x` });
  if (limit.max !== undefined) checks.push({ ok: m.value <= limit.max, text: `≤ ${format(limit.max)}` });
  if (limit.min !== undefined) checks.push({ ok: m.value >= limit.min, text: `≥ ${format(limit.min)}` });
  return {
    case: benchCase.name,
    label: m.label,
    value: m.value,
    unit: m.unit,
    cairn: format(m.value),
    baseline: m.baseline ? `${m.baseline.label}: ${format(m.baseline.value)}` : "",
    baselineValue: m.baseline?.value ?? null,
    ratio: ratio === null ? "" : `${ratio.toFixed(2)}x`,
    // limit: null marks a figure shown for information (no target of its own).
    target: checks.length ? checks.map((c) => c.text).join(", ") : m.limit === null ? "(information)" : benchCase.target ?? "",
    result: checks.length ? (checks.every((c) => c.ok) ? "met" : "MISSED") : "",
    note: m.note ?? "",
  };
}

/** The table (Markdown, padded so it also reads well in a terminal), notes, and the machine. */
function renderReport({ command, machine, rows }) {
  const headers = ["case", "Cairn", "baseline", "ratio", "target", "result"];
  const cells = rows.map((r) => (r.error ? [r.label, "error", "", "", "", "ERROR"] : [r.label, r.cairn, r.baseline, r.ratio, r.target, r.result]));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((s, i) => s.padEnd(widths[i])).join(" | ")} |`;
  const notes = rows.map((r, i) => (r.error ? `${i + 1}. ${r.label}: ${r.error.split("\n")[0]}` : r.note ? `${i + 1}. ${r.label}: ${r.note}` : null)).filter(Boolean);
  return [
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)})`,
    "",
    ...machine.lines.map((l) => `- ${l}`),
    "",
    line(headers),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...cells.map(line),
    "",
    ...(notes.length ? ["Notes:", "", ...notes] : []),
  ].join("\n");
}

/** Replaces the generated part of docs/BENCHMARKS.md (between the markers), keeping the prose. */
async function updateDoc(report) {
  const file = path.join(root, "docs", "BENCHMARKS.md");
  const begin = "<!-- bench:begin (generated by bench/run.mjs --update-doc) -->";
  const end = "<!-- bench:end -->";
  let text;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    text = `# Benchmarks\n\n${begin}\n${end}\n`;
  }
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} lacks the markers ${begin} … ${end}; add them where the table goes.`);
  await fs.writeFile(file, `${text.slice(0, from + begin.length)}\n${report}\n${text.slice(to)}`);
  log(`wrote the table into ${path.relative(root, file)}`);
}
