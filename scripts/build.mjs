// Post-compile build steps: bundle the CLI, make it executable, and build the web UI when it exists.
import { chmodSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const step = (script) => {
  const result = spawnSync(process.execPath, [script], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

step("scripts/bundle-cli.mjs");
chmodSync("dist/cli/main.js", 0o755);
if (existsSync("ui/build.mjs")) step("ui/build.mjs");
