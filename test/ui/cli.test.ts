import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, childEnvironment, runCli } from "../helpers/project.js";
import { makeFixture, type Fixture } from "../server/fixture.js";

let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture();
});
afterAll(async () => {
  await fixture?.cleanup();
});

/** Starts `cairn ui ARGS` in the fixture's project; resolves once it printed its URL. */
function startUi(args: string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, "ui", ...args], { cwd: fixture.dir, env: childEnvironment(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    // Ready once the URL is on stdout and the banner (after any warning) on stderr.
    const check = (): void => {
      if (!stdout.includes("\n") || !stderr.includes("Ctrl-C")) return;
      resolve({
        url: stdout.trim(),
        stderr: () => stderr,
        stop: () => {
          child.kill("SIGTERM");
          return closed;
        },
      });
    };
    child.stdout.on("data", (d) => {
      stdout += d;
      check();
    });
    child.stderr.on("data", () => check());
    void closed.then((code) => reject(new Error(`cairn ui exited (${code}) before printing a URL: ${stderr}`)));
  });
}

describe("cairn ui", () => {
  it("serves on 127.0.0.1, prints the URL on stdout, and stops cleanly on SIGTERM", async () => {
    const ui = await startUi(["--port", "0"]);
    try {
      expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const listing = (await (await fetch(`${ui.url}api/experiments`)).json()) as { total: number };
      expect(listing.total).toBe(4);
      const page = await fetch(ui.url);
      expect(await page.text()).toContain('<script src="app.js">');
      expect(ui.stderr()).toContain("read-only");
      expect(ui.stderr()).not.toContain("warning");
    } finally {
      expect(await ui.stop()).toBe(0);
    }
  });

  it("warns and requires a token beyond loopback", async () => {
    const ui = await startUi(["--host", "0.0.0.0", "--port", "0"]);
    try {
      const token = /\?token=([\w-]+)$/.exec(ui.url)?.[1];
      expect(token).toBeDefined();
      expect(ui.stderr()).toMatch(/warning: listening on 0\.0\.0\.0/);
      const port = new URL(ui.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/api/experiments`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/api/experiments`, { headers: { "x-cairn-token": token! } })).status).toBe(200);
    } finally {
      await ui.stop();
    }
  });

  it("refuses a bad port as a usage error", async () => {
    const result = await runCli(fixture.dir, ["ui", "--port", "http"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--port");
    expect(result.stdout).toBe("");
  });
});
