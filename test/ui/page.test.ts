import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/server/index.js";
import { DEFAULT_UI_DIRECTORY } from "../../src/server/static.js";
import { DIST_INDEX } from "../helpers/project.js";
import { makeFixture, type Fixture } from "../server/fixture.js";
import { launchBrowser } from "./browser.js";
// @ts-expect-error: a plain ES module shared with the benchmarks
import { makeLargeRepository } from "../../bench/large-repository.mjs";

let fixture: Fixture;
let server: RunningServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(path.join(DEFAULT_UI_DIRECTORY, "index.html"))) throw new Error(`The page is not built (${DEFAULT_UI_DIRECTORY}); run "npm run build" first.`);
  fixture = await makeFixture();
  server = await startServer({ repository: fixture.repository, port: 0, ttlMs: 300 });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fixture?.cleanup();
});

const rowIds = (p: Page = page): Promise<string[]> => p.$$eval("#experiments tbody tr[data-id]", (rows) => rows.map((r) => (r as HTMLElement).dataset.id!));

async function waitForRows(count: number, p: Page = page): Promise<void> {
  await p.waitForFunction((n) => document.querySelectorAll("#experiments tbody tr[data-id]").length === n, count);
}

describe("the experiments table", () => {
  it("lists every experiment with the params that vary and the metrics", async () => {
    await page.goto(server.url);
    await waitForRows(4);
    expect(await rowIds()).toEqual([fixture.running.id, ...[...fixture.ids].reverse()]);
    const headers = await page.$$eval("#experiments thead th[data-field]", (ths) => ths.map((th) => (th as HTMLElement).dataset.field));
    expect(headers).toEqual(expect.arrayContaining(["id", "status", "created", "user", "params.lr", "params.layers", "metrics.loss", "latest.loss", "checkpoints"]));
    expect(await page.textContent("#count")).toBe("4 experiments");
    const running = await page.textContent(`tr[data-id="${fixture.running.id}"] .status`);
    expect(running).toContain("running");
  });

  it("sorts by a column, both ways, on the server", async () => {
    await page.click('th[data-field="params.lr"] button');
    await page.waitForFunction(() => document.querySelector('th[data-field="params.lr"]')?.getAttribute("aria-sort") === "ascending");
    await page.waitForFunction((first) => document.querySelector("#experiments tbody tr[data-id]")?.getAttribute("data-id") === first, fixture.ids[2]);
    expect(await rowIds()).toEqual([fixture.ids[2], fixture.ids[1], fixture.ids[0], fixture.running.id]);
    await page.click('th[data-field="params.lr"] button');
    await page.waitForFunction((first) => document.querySelector("#experiments tbody tr[data-id]")?.getAttribute("data-id") === first, fixture.running.id);
    expect(await rowIds()).toEqual([fixture.running.id, fixture.ids[0], fixture.ids[1], fixture.ids[2]]);
    expect(page.url()).toContain("sort=params.lr%3Adesc");
  });

  it("filters with the CLI's language", async () => {
    await page.fill("#filter", "params.lr < 0.05 and status = stopped");
    await page.press("#filter", "Enter");
    await waitForRows(2);
    expect(new Set(await rowIds())).toEqual(new Set([fixture.ids[1], fixture.ids[2]]));
    expect(await page.textContent("#count")).toBe("2 of 4 experiments");
  });

  it("explains an invalid filter in place", async () => {
    await page.fill("#filter", "status = stopped and params.lrr < 1");
    await page.press("#filter", "Enter");
    await page.waitForSelector(".filter-error:not([hidden])");
    expect(await page.textContent(".filter-error")).toContain("did you mean params.lr?");
    expect(await page.textContent(".filter-mirror mark.bad")).toBe("params.lrr");
    expect(await page.getAttribute("#filter", "aria-invalid")).toBe("true");

    await page.fill("#filter", "params.lr <");
    await page.press("#filter", "Enter");
    await page.waitForFunction(() => document.querySelector(".filter-error")?.textContent?.includes("value"));
    expect(await page.isVisible(".filter-mirror mark.bad")).toBe(true);

    await page.fill("#filter", "");
    await page.press("#filter", "Enter");
    await waitForRows(4);
    expect(await page.isHidden(".filter-error")).toBe(true);
  });
});

describe("an experiment's page", () => {
  it("shows params, environment, git diff, code, checkpoints and a chart per metric", async () => {
    const id = fixture.ids[0]!;
    await page.goto(`${server.url}#/`);
    await waitForRows(4);
    await page.click(`tr[data-id="${id}"] a.id`);
    await page.waitForSelector(".chart-card .u-over");
    await page.waitForSelector(`.chart-card[data-metric="loss"] .u-legend`);
    expect(page.url()).toContain(`#/experiments/${id}`);
    const charts = await page.$$eval(".chart-card", (cards) => cards.map((c) => (c as HTMLElement).dataset.metric));
    expect(charts).toEqual(["accuracy", "loss"]);
    // The loss chart has the experiment's curve and the best checkpoint's marker.
    expect(await page.$$eval('.chart-card[data-metric="loss"] .u-legend .u-series', (s) => s.length)).toBe(3);
    expect(await page.$$eval('.chart-card[data-metric="accuracy"] .u-legend .u-series', (s) => s.length)).toBe(2);
    expect(await page.textContent("#params")).toContain("lr");
    expect(await page.textContent("#environment")).toContain(os.userInfo().username);
    await page.waitForSelector("pre.diff");
    expect(await page.textContent("pre.diff")).toContain("+for epoch in range(10):");
    await page.waitForSelector('pre.code[data-path="train.py"]');
    expect(await page.textContent('pre.code[data-path="train.py"]')).toContain("for epoch in range(10):");
    await page.click('ul.file-list li[data-path="lib/util.py"]');
    await page.waitForSelector('pre.code[data-path="lib/util.py"]');
    expect(await page.textContent('pre.code[data-path="lib/util.py"]')).toContain("def train():");

    const experiment = await fixture.repository.getExperiment(id);
    const best = experiment.best()!;
    expect(await page.getAttribute("#checkpoint-table tr.best", "data-checkpoint")).toBe(best.id);
    expect(await page.textContent("#checkpoint-table tr.best td.star")).toBe("★");
    await page.click("#checkpoint-table tr.best button");
    await page.waitForSelector("ul.downloads a");
    const href = (await page.getAttribute('ul.downloads a:text("model/weights.bin")', "href"))!;
    const downloaded = await page.evaluate(async (url) => (await fetch(url)).text(), href);
    expect(downloaded).toBe(`weights of 0.1 at ${best.step}`);
  });

  it("updates a running experiment without a reload", async () => {
    await page.goto(`${server.url}#/experiments/${fixture.running.id}`);
    await page.waitForSelector("#checkpoint-table");
    const before = await page.$$eval("#checkpoint-table tr[data-checkpoint]", (rows) => rows.length);
    const recorded = await fixture.running.checkpoint({ step: 10, metrics: { loss: 0.25 } });
    await page.waitForSelector(`#checkpoint-table tr[data-checkpoint="${recorded.id}"]`, { timeout: 20_000 });
    expect(await page.$$eval("#checkpoint-table tr[data-checkpoint]", (rows) => rows.length)).toBe(before + 1);
  });
});

describe("the compare page", () => {
  it("overlays the curves of the chosen experiments and lists what differs", async () => {
    await page.goto(`${server.url}#/`);
    await waitForRows(4);
    const [a, b] = fixture.ids;
    await page.check(`tr[data-id="${a}"] input[type=checkbox]`);
    expect(await page.isDisabled("#compare")).toBe(true);
    await page.check(`tr[data-id="${b}"] input[type=checkbox]`);
    await page.click("#compare");
    await page.waitForSelector('.chart-card[data-metric="loss"] .u-over');
    expect(page.url()).toContain(`#/compare?ids=${a},${b}`);
    for (const metric of ["loss", "accuracy"]) {
      // One series per experiment, after the x axis.
      expect(await page.$$eval(`.chart-card[data-metric="${metric}"] .u-legend .u-series`, (s) => s.length)).toBe(3);
    }
    expect(await page.$$eval("#legend li", (items) => items.length)).toBe(2);
    const lr = await page.$$eval("#diff-table tr", (rows) => rows.map((r) => (r as HTMLElement).innerText).find((t) => t.startsWith("lr")));
    expect(lr?.split(/\s+/)).toEqual(["lr", "0.1", "0.01"]);
    expect(await page.textContent("#diff-table")).toContain("loss");
  });
});

describe("a server beyond loopback", () => {
  it("requires the token it printed", async () => {
    const open = await startServer({ repository: fixture.repository, host: "0.0.0.0", port: 0 });
    try {
      expect(open.loopback).toBe(false);
      expect(open.token).toMatch(/^[\w-]{20,}$/);
      expect(open.url).toContain(`?token=${open.token}`);
      const local = `http://127.0.0.1:${open.port}/`;
      const other = await browser.newPage();
      await other.goto(local);
      await other.waitForSelector(".notice:not([hidden])");
      expect(await other.textContent(".notice")).toContain("token");
      const status = await other.evaluate(async () => (await fetch("/api/experiments")).status);
      expect(status).toBe(401);
      await other.goto(`${local}?token=${open.token}`);
      await waitForRows(4, other);
      const file = await other.evaluate(async (id) => (await fetch(`/api/experiments/${id}/code/train.py`)).status, fixture.ids[0]);
      expect(file).toBe(401);
      await other.close();
    } finally {
      await open.close();
    }
  });
});

describe("a large repository", () => {
  it("renders only the rows in view, and scrolls to the last of 1,500", async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-large-"));
    try {
      const repositoryPath: string = await makeLargeRepository({ directory, dist: pathToFileURL(DIST_INDEX).href, experiments: 1500, checkpoints: 5 });
      const repository = await openRepository(repositoryPath, { projectDirectory: path.dirname(repositoryPath) });
      const large = await startServer({ repository, port: 0 });
      try {
        const other = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        await other.goto(large.url);
        await other.waitForSelector("#experiments tbody tr[data-id]");
        expect(await other.textContent("#count")).toBe("1,500 experiments");
        expect((await rowIds(other)).length).toBeLessThan(80);
        const last = (await (await fetch(`${large.url}api/experiments?offset=1499&limit=1`)).json()) as { rows: { id: string }[] };
        await other.$eval(".table-scroll", (element) => (element.scrollTop = element.scrollHeight));
        await other.waitForSelector(`tr[data-id="${last.rows[0]!.id}"]`);
        expect((await rowIds(other)).length).toBeLessThan(80);
        await other.close();
      } finally {
        await large.close();
      }
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
    }
  });
});
