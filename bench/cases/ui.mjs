/**
 * The web UI (issue 5): `cairn ui` starts in well under a second; the experiments table stays fast
 * with 10,000 experiments; the compare page stays responsive with 100 experiments of 10,000
 * points each.
 *
 * - Start-up: spawn → URL on stdout, against `cairn --version` (the CLI's own floor).
 * - The table: API answers for a 10,000-experiment repository (a real record copied with new IDs,
 *   params and 20-checkpoint curves): the first page (cold, against `Repository.load()` of the
 *   same repository, the floor any reader pays), a sorted page, a filtered page, the next window
 *   of a listing at hand, and a background refresh with nothing changed.
 * - The compare page in headless Chromium (Debian's `chromium`): navigation → every chart drawn
 *   with its 100 series, and the time per mouse move over a chart (the cursor and the legend's
 *   100 values are redrawn on each).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { makeLargeRepository } from "../large-repository.mjs";
import { formatSeconds, median, run, spread, time } from "../lib.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Spawns `cairn ui` and resolves with the seconds until it printed the URL. */
function timeStart(cli, repository) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, "-R", repository, "ui", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    child.on("error", reject);
    child.stdout.once("data", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      child.kill("SIGTERM");
      child.on("close", () => resolve(seconds));
    });
  });
}

export default {
  name: "ui",
  target: "start < 1 s; 10,000-row table and 100×10,000-point charts stay interactive",
  async run({ quick, runs, directory, root, cli, dist, log }) {
    const cairn = await import(dist);
    const { startServer } = await import(pathToFileURL(path.join(root, "dist", "server", "index.js")).href);
    const { ExperimentSource } = await import(pathToFileURL(path.join(root, "dist", "server", "snapshot.js")).href);
    const count = runs ?? (quick ? 3 : 5);
    const experiments = quick ? 2000 : 10_000;
    const points = quick ? 2000 : 10_000;
    const compared = quick ? 20 : 100;

    log(`making a repository of ${experiments} experiments`);
    const large = await makeLargeRepository({ directory: path.join(directory, "large"), dist, experiments, checkpoints: 20, running: 3 });

    const starts = [];
    const versions = [];
    for (let i = 0; i < count; i++) {
      starts.push(await timeStart(cli, large));
      versions.push((await run(process.execPath, [cli, "--version"])).seconds);
    }
    log(`start: ${formatSeconds(median(starts))}; --version ${formatSeconds(median(versions))}`);

    const loads = [];
    for (let i = 0; i < count; i++) {
      const repository = await cairn.openRepository(large, { projectDirectory: path.dirname(large) });
      loads.push(await time(() => repository.load()));
    }

    const cold = [];
    const sorted = [];
    const filtered = [];
    const paged = [];
    const refreshes = [];
    for (let i = 0; i < count; i++) {
      const repository = await cairn.openRepository(large, { projectDirectory: path.dirname(large) });
      const server = await startServer({ repository, port: 0 });
      const api = (query) => fetch(`${server.url}api/experiments?${query}`).then(async (r) => {
        if (!r.ok) throw new Error(`${query}: ${r.status} ${await r.text()}`);
        return r.json();
      });
      try {
        // startServer() starts reading at once; a browser's first request joins that read.
        cold.push(await time(() => api("limit=100")));
        sorted.push(await time(() => api(`sort=metrics.loss:asc&limit=100&i=${i}`)));
        filtered.push(await time(() => api(`filter=${encodeURIComponent(`params.lr < 0.01 and params.optimizer = adam and metrics.loss < ${0.2 + i / 1000}`)}&limit=100`)));
        paged.push(await time(() => api("sort=metrics.loss:asc&offset=5000&limit=100")));
        // A refresh, timed in-process: the server's requests never wait for one.
        const source = new ExperimentSource(repository);
        await source.snapshot();
        refreshes.push(await time(() => source.snapshot({ fresh: true })));
      } finally {
        await server.close();
      }
    }

    const measurements = [
      { label: "cairn ui: URL printed", value: median(starts), unit: "s", baseline: { label: "cairn --version", value: median(versions) }, limit: { max: 1 }, note: `cairn ui ${spread(starts)}; --version ${spread(versions)}. Spawn to the URL on stdout, ${experiments} experiments in the repository.` },
      { label: `${experiments} experiments: first table page (cold)`, value: median(cold), unit: "s", baseline: { label: "Repository.load()", value: median(loads) }, limit: { max: 1 }, note: `${spread(cold)} (issue 7: the web UI's table like \`cairn ls\`, at most 1 s cold); Repository.load() ${spread(loads)}: reading every summary is the floor.` },
      { label: `${experiments} experiments: a page sorted by metrics.loss`, value: median(sorted), unit: "s", limit: { max: 0.5 }, note: spread(sorted) },
      { label: `${experiments} experiments: a filtered page`, value: median(filtered), unit: "s", limit: { max: 0.5 }, note: spread(filtered) },
      { label: `${experiments} experiments: a window deeper in the same listing`, value: median(paged), unit: "s", limit: { max: 0.1 }, note: spread(paged) },
      { label: `${experiments} experiments: background refresh, nothing changed`, value: median(refreshes), unit: "s", limit: { max: 0.3 }, note: `${spread(refreshes)} (issue 7: warm at most 0.3 s). Requests do not wait for it.` },
    ];

    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM).`);
    log(`making ${compared} experiments of ${points} checkpoints`);
    const wide = await makeLargeRepository({ directory: path.join(directory, "wide"), dist, experiments: compared, checkpoints: points });
    const { chromium } = await import("playwright-core");
    const repository = await cairn.openRepository(wide, { projectDirectory: path.dirname(wide) });
    const server = await startServer({ repository, port: 0 });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
    });
    const drawn = [];
    const moves = [];
    try {
      const listing = await (await fetch(`${server.url}api/experiments?limit=${compared}`)).json();
      const ids = listing.rows.map((r) => r.id.slice(0, 12)).join(",");
      for (let i = 0; i < count; i++) {
        const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
        const started = process.hrtime.bigint();
        await page.goto(`${server.url}#/compare?ids=${ids}`);
        await page.waitForFunction((n) => {
          const charts = [...document.querySelectorAll(".chart-card .uplot")];
          return charts.length === 2 && charts.every((c) => c.dataset.series === String(n));
        }, compared, { timeout: 120_000 });
        drawn.push(Number(process.hrtime.bigint() - started) / 1e9);
        const over = await page.$('.chart-card[data-metric="loss"] .u-over');
        const box = await over.boundingBox();
        const steps = 40;
        const moveStart = process.hrtime.bigint();
        for (let s = 0; s < steps; s++) {
          await page.mouse.move(box.x + (box.width * (s + 0.5)) / steps, box.y + box.height / 2);
          await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(null))));
        }
        moves.push(Number(process.hrtime.bigint() - moveStart) / 1e9 / steps);
        await page.close();
      }
    } finally {
      await browser.close();
      await server.close();
    }
    measurements.push(
      { label: `compare page, ${compared} experiments × ${points} points: charts drawn`, value: median(drawn), unit: "s", limit: { max: 10 }, note: `${spread(drawn)}. From navigation to both charts drawn with every series (fetching ${compared} columnar series included).` },
      { label: `compare page, ${compared} × ${points}: per mouse move (cursor and legend values)`, value: median(moves), unit: "s", limit: { max: 0.1 }, note: `${spread(moves)}; a move and the next animation frame.` },
    );
    return measurements;
  },
};
