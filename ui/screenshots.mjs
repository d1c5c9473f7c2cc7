#!/usr/bin/env node
/**
 * Takes the README's screenshots: makes a demo repository (ui/demo.mjs), serves it with the
 * built server, and photographs each page in headless Chromium (Debian's `chromium`, driven by
 * playwright-core) into docs/screenshots/*.png.
 *
 *   npm run build && node ui/screenshots.mjs
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { makeDemo } from "./demo.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "docs", "screenshots");
const { startServer } = await import(pathToFileURL(path.join(root, "dist", "server", "index.js")).href);

const directory = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-screenshots-"));
const { repository, ids, running } = await makeDemo(directory, { running: true });
await new Promise((resolve) => setTimeout(resolve, 1500)); // the running experiment's records land
const server = await startServer({ repository, port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
});
try {
  await fs.mkdir(out, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1440, height: 820 }, deviceScaleFactor: 1 });
  const shoot = async (name, options = {}) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(out, `${name}.png`), ...options });
    process.stdout.write(`docs/screenshots/${name}.png\n`);
  };

  await page.goto(`${server.url}#/?sort=metrics.loss:asc`);
  await page.waitForSelector("#experiments tbody tr[data-id]");
  for (const id of [ids[1], ids[2], ids[5]]) await page.check(`tr[data-id="${id}"] input[type=checkbox]`);
  await shoot("experiments");

  await page.fill("#filter", "params.lr < 0.05 and params.batchsize = 64");
  await page.press("#filter", "Enter");
  await page.waitForSelector(".filter-error:not([hidden])");
  await shoot("filter-error", { clip: { x: 0, y: 0, width: 1440, height: 260 } });

  await page.setViewportSize({ width: 1440, height: 1250 });
  await page.goto(`${server.url}#/experiments/${ids[2]}`);
  await page.waitForSelector(".chart-card .u-over");
  await page.waitForSelector("pre.code");
  await shoot("experiment");
  await page.click("tr.best button");
  await page.waitForSelector("ul.downloads a");
  await page.evaluate(() => document.getElementById("checkpoints")?.scrollIntoView());
  await page.setViewportSize({ width: 1440, height: 1400 });
  await shoot("experiment-details");

  await page.setViewportSize({ width: 1440, height: 1200 });
  await page.goto(`${server.url}#/compare?ids=${[ids[1], ids[2], ids[5], ids[3], running.id].join(",")}`);
  await page.waitForSelector(".chart-card .u-over");
  await page.waitForSelector("#diff-table");
  const over = await page.$('.chart-card[data-metric="loss"] .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await shoot("compare");
} finally {
  await browser.close();
  await server.close();
  await running?.stop();
  await fs.rm(directory, { recursive: true, force: true });
}
