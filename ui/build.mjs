#!/usr/bin/env node
/**
 * Builds the web page into dist/ui/: ui/src/main.ts (with uPlot and the CSS it imports) bundled
 * by esbuild into app.js + app.css, and index.html copied. Run by `npm run build` (through
 * scripts/build.mjs); nothing built is committed. The page's TypeScript is type-checked first.
 *
 *   node ui/build.mjs [--no-check]
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const out = path.join(root, "dist", "ui");

if (!process.argv.includes("--no-check")) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const check = spawnSync(process.execPath, [tsc, "-p", path.join(here, "tsconfig.json")], { stdio: "inherit" });
  if (check.status !== 0) process.exit(check.status ?? 1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: path.join(here, "src", "main.ts") },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  logLevel: "warning",
});
copyFileSync(path.join(here, "index.html"), path.join(out, "index.html"));
