// Post-compile build steps: make the CLI executable, and build the web UI when it exists.
import { chmodSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

chmodSync("dist/cli/main.js", 0o755);
if (existsSync("ui/build.mjs")) {
  const result = spawnSync(process.execPath, ["ui/build.mjs"], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
