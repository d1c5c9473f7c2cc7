#!/usr/bin/env node
/**
 * Bundles the `cairn` executable: dist/cli/main.js (tsc's output, one module per source file)
 * is replaced by esbuild's bundle of src/cli/main.ts, so that starting the CLI loads a handful of
 * files instead of about 85 modules. Node resolves, reads, compiles and links each module it
 * loads; for `cairn --version` that was about a third of the time after Node's own start.
 * Run by scripts/build.mjs after tsc; the library (dist/index.js and the rest of dist/) stays
 * tsc's output.
 *
 *   node scripts/bundle-cli.mjs
 *
 * What stays out of the first file: every module the CLI imports only when a command needs it
 * (`await import(...)`: the web server, publishing, verification, the cloud drivers) becomes a
 * chunk of its own (splitting), loaded when imported; and npm packages other than commander and
 * picocolors stay external, so the cloud SDKs load, as before, only for a bucket. Chunks are
 * written next to main.js (dist/cli/bundle-*.js): code that finds files relative to its own
 * module (import.meta.url) must resolve the same from dist/cli/ as from its own dist/ folder.
 */
import { readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "cli");
const CHUNK_PREFIX = "bundle-";

// Chunks of an earlier build have other hashes; left there, they would pile up.
for (const name of readdirSync(out)) if (name.startsWith(CHUNK_PREFIX)) rmSync(path.join(out, name));

await build({
  entryPoints: { main: path.join(root, "src", "cli", "main.ts") },
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: `${CHUNK_PREFIX}[hash]`,
  sourcemap: true,
  // Packages loaded only for some commands or storages stay external (and lazy); commander and
  // picocolors, which every run loads, are bundled.
  external: ["@aws-sdk/*", "@azure/*", "@google-cloud/*", "@smithy/*", "cli-progress", "ignore", "yaml"],
  // commander is CommonJS and require()s Node's modules; an ES module has no `require` of its own.
  banner: { js: 'import { createRequire as __cairnCreateRequire } from "node:module";\nconst require = __cairnCreateRequire(import.meta.url);' },
  logLevel: "warning",
});
