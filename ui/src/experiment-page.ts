import { filePath, getJson, link, segment } from "./api.js";
import { MetricChart, colorOf } from "./chart.js";
import { codeBrowser, diffView } from "./code-browser.js";
import { h, replace } from "./dom.js";
import { absoluteTime, duration, flatten, formatBytes, formatMetric, formatValue, relativeTime, shortId } from "./format.js";
import type { Cleanup } from "./main.js";
import { Poller } from "./poll.js";
import { mergeSeries } from "./series.js";
import { statusBadge } from "./status.js";
import type { CheckpointJson, ExperimentJson, Series, TreeEntry } from "./types.js";

const POLL_MS = 2000;
/** Checkpoint rows shown at first and added by "Show more". */
const PAGE = 20;

/**
 * One experiment: params, environment, git commit and diff, the code snapshot, the checkpoints
 * (best marked, files downloadable) and a chart per metric against step. While it runs, the page
 * polls and appends new checkpoints to the charts and the table.
 *
 * @example
 * const leave = showExperiment(document.getElementById("app")!, "e510303");
 */
export function showExperiment(root: HTMLElement, idOrPrefix: string): Cleanup {
  let left = false;
  let poller: Poller | null = null;
  const charts = new Map<string, MetricChart>();
  replace(root, h("p", { class: "muted" }, "Loading…"));

  const header = h("div", { class: "page-head" });
  const chartGrid = h("div", { class: "charts", id: "charts" });
  const checkpointSection = h("div", { class: "checkpoints" });
  let series: Series | null = null;
  let experiment: ExperimentJson | null = null;
  let shown = PAGE;

  async function load(): Promise<void> {
    const [fresh, update] = await Promise.all([
      getJson<ExperimentJson>(`/api/experiments/${segment(idOrPrefix)}`),
      getJson<Series>(`/api/experiments/${segment(idOrPrefix)}/series?digits=6${series ? `&from=${series.count}` : ""}`),
    ]);
    if (left) return;
    const first = experiment === null;
    experiment = fresh;
    series = series ? mergeSeries(series, update) : update;
    if (first) layout(fresh);
    renderHeader(fresh);
    renderCharts();
    renderCheckpoints();
    if (fresh.status !== "running") poller?.stop();
  }

  function layout(e: ExperimentJson): void {
    const params = flatten(e.params);
    const env = e.environment;
    const sections: (Node | null)[] = [
      header,
      h("section", { class: "card" }, h("h2", {}, "Metrics"), chartGrid),
      h(
        "div",
        { class: "columns" },
        h("section", { class: "card", id: "params" }, h("h2", {}, "Params"), Object.keys(params).length ? keyValues(Object.entries(params).map(([k, v]) => [k, formatValue(v)])) : h("p", { class: "muted" }, "No params.")),
        h(
          "section",
          { class: "card", id: "environment" },
          h("h2", {}, "Environment"),
          env
            ? keyValues([
                ["user", `${env.user}@${env.host}`],
                ["command", env.command.join(" ")],
                ["directory", env.workingDirectory],
                ["node", env.node],
                ...Object.entries(env.runtimes).map(([k, v]): [string, string] => [k, v]),
                ["os", `${env.os} (${env.arch})`],
                ["cpu", `${env.cpu} × ${env.cpus}, ${formatBytes(env.memoryBytes)}`],
                ["gpus", env.gpus.length ? env.gpus.map((g) => `${g.name}${g.memory ? ` (${g.memory})` : ""}`).join(", ") : "none"],
              ])
            : h("p", { class: "muted" }, "Not recorded."),
        ),
        gitSummary(e),
      ),
      h("section", { class: "card", id: "checkpoints" }, h("h2", {}, "Checkpoints"), checkpointSection),
      h("section", { class: "card", id: "code" }, h("h2", {}, "Code", e.code ? h("span", { class: "muted small" }, ` ${e.code.files} files, ${formatBytes(e.code.bytes)}`) : null), codePlaceholder(e)),
      gitDiffSection(e),
      dependenciesSection(e),
    ];
    replace(root, h("div", { class: "experiment-page" }, sections));
  }

  function codePlaceholder(e: ExperimentJson): HTMLElement {
    const holder = h("div", {}, h("p", { class: "muted" }, e.code ? "Loading…" : "No code snapshot was recorded."));
    if (e.code) {
      getJson<{ files: TreeEntry[] }>(`/api/experiments/${segment(e.id)}/code`).then(
        (result) => replace(holder, codeBrowser(e.id, result.files)),
        (error: Error) => replace(holder, h("p", { class: "error" }, error.message)),
      );
    }
    return holder;
  }

  function renderHeader(e: ExperimentJson): void {
    const env = e.environment;
    replace(
      header,
      h("a", { href: "#/", class: "back" }, "← Experiments"),
      h("h1", {}, "Experiment ", h("span", { class: "mono" }, shortId(e.id)), " ", statusBadge(e.status)),
      h(
        "p",
        { class: "meta" },
        h("span", { class: "mono muted", title: "Full ID" }, e.id),
        h("span", { title: absoluteTime(e.created) }, `started ${relativeTime(e.created)}`),
        h("span", {}, e.status === "running" ? `running for ${duration(e.created, null)}` : `ran ${duration(e.created, e.stopped ?? e.latest?.created ?? e.created)}`),
        env ? h("span", {}, `${env.user}@${env.host}`) : null,
        env ? h("span", { class: "mono" }, env.command.join(" ")) : null,
      ),
    );
  }

  function renderCharts(): void {
    if (!series) return;
    const names = Object.keys(series.metrics);
    if (names.length === 0) {
      replace(chartGrid, h("p", { class: "muted" }, "No metrics recorded yet."));
      return;
    }
    if (chartGrid.querySelector(".muted")) chartGrid.replaceChildren();
    for (const name of names) {
      let chart = charts.get(name);
      if (!chart) {
        const primary = series.primaryMetric?.name === name ? h("span", { class: "tag" }, `primary · ${series.primaryMetric.goal}`) : null;
        const box = h("div", { class: "chart" });
        chartGrid.append(h("figure", { class: "chart-card", "data-metric": name }, h("figcaption", {}, name, " ", primary), box));
        chart = new MetricChart(box, name);
        charts.set(name, chart);
      }
      const y = series.metrics[name]!;
      const lines = [{ label: shortId(series.id), color: colorOf(0), x: series.step, y }];
      if (series.best !== null && series.primaryMetric?.name === name) {
        const marker = y.map((value, index) => (index === series!.best ? value : null));
        lines.push({ label: "best", color: "#f59e0b", x: series.step, y: marker, markersOnly: true } as (typeof lines)[number]);
      }
      chart.update(lines);
    }
  }

  function renderCheckpoints(): void {
    if (!experiment) return;
    const e = experiment;
    if (e.checkpoints.length === 0) {
      replace(checkpointSection, h("p", { class: "muted" }, "No checkpoints yet."));
      return;
    }
    const metricNames = [...new Set(e.checkpoints.flatMap((c) => Object.keys(c.metrics)))].sort();
    const bestId = e.best?.id ?? null;
    // Newest first (a running experiment's progress on top), and the best always shown.
    const newest = e.checkpoints.slice(-shown).reverse();
    const pinned = e.best && !newest.some((c) => c.id === bestId) ? [e.best] : [];
    const rows = [...pinned, ...newest].flatMap((c) => checkpointRows(c, metricNames, c.id === bestId));
    const table = h(
      "table",
      { class: "data checkpoint-table", id: "checkpoint-table" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "ID"), h("th", { class: "num" }, "Step"), h("th", {}, "Created"), metricNames.map((m) => h("th", { class: "num" }, m, e.primaryMetric?.name === m ? " ◆" : "")), h("th", { class: "num" }, "Files"), h("th", {}, ""))),
      h("tbody", {}, rows),
    );
    const more = e.checkpoints.length > shown ? h("button", { class: "quiet", type: "button", onclick: () => ((shown += 500), renderCheckpoints()) }, `Show more (${e.checkpoints.length - shown} more)`) : null;
    const summary = h("p", { class: "muted small" }, `${e.checkpoints.length} checkpoint${e.checkpoints.length === 1 ? "" : "s"}`, bestId ? `; ★ marks the best by ${e.primaryMetric?.name} (${e.primaryMetric?.goal})` : "");
    replace(checkpointSection, summary, h("div", { class: "table-wrap" }, table), more);
  }

  function checkpointRows(c: CheckpointJson, metricNames: string[], best: boolean): HTMLElement[] {
    const detail = h("tr", { class: "files-row", hidden: true }, h("td", { colspan: metricNames.length + 6 }));
    const toggle = c.files > 0
      ? h("button", { class: "quiet small", type: "button", "aria-expanded": "false", onclick: (event: Event) => void toggleFiles(event.currentTarget as HTMLButtonElement, detail, c) }, "Files")
      : null;
    return [
      h(
        "tr",
        { class: best ? "best" : "", "data-checkpoint": c.id },
        h("td", { class: "star", title: best ? "best checkpoint" : "" }, best ? "★" : ""),
        h("td", { class: "mono" }, shortId(c.id)),
        h("td", { class: "num" }, String(c.step)),
        h("td", { title: absoluteTime(c.created) }, relativeTime(c.created)),
        metricNames.map((m) => h("td", { class: "num" }, formatMetric(c.metrics[m]))),
        h("td", { class: "num" }, c.files ? `${c.files} · ${formatBytes(c.bytes)}` : "—"),
        h("td", {}, toggle),
      ),
      detail,
    ];
  }

  async function toggleFiles(button: HTMLButtonElement, detail: HTMLElement, c: CheckpointJson): Promise<void> {
    const open = detail.hidden;
    detail.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open || detail.dataset.loaded) return;
    detail.dataset.loaded = "1";
    const cell = detail.firstElementChild as HTMLElement;
    replace(cell, h("span", { class: "muted" }, "Loading…"));
    try {
      const result = await getJson<{ fileList: TreeEntry[] }>(`/api/checkpoints/${segment(c.id)}`);
      replace(
        cell,
        h(
          "ul",
          { class: "downloads" },
          result.fileList.map((file) =>
            h("li", {}, h("a", { href: link(`/api/checkpoints/${segment(c.id)}/files/${filePath(file.path)}`), download: file.path.split("/").pop() ?? "" }, file.path), h("span", { class: "muted" }, ` ${formatBytes(file.size)}`)),
          ),
        ),
      );
    } catch (error) {
      replace(cell, h("span", { class: "error" }, (error as Error).message));
    }
  }

  load().then(
    () => {
      if (!left && experiment?.status === "running") poller = new Poller(load, POLL_MS);
    },
    (error: Error) => {
      if (!left) replace(root, h("div", { class: "page-head" }, h("a", { href: "#/", class: "back" }, "← Experiments"), h("p", { class: "error" }, error.message)));
    },
  );
  return () => {
    left = true;
    poller?.stop();
    for (const chart of charts.values()) chart.destroy();
  };
}

function keyValues(entries: [string, string][]): HTMLElement {
  return h("table", { class: "kv" }, h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", { class: "mono" }, v)))));
}

function gitSummary(e: ExperimentJson): HTMLElement {
  const git = e.git;
  const section = h("section", { class: "card", id: "git" }, h("h2", {}, "Git"));
  if (!git) {
    section.append(h("p", { class: "muted" }, "Not a git work tree when it started."));
    return section;
  }
  section.append(
    keyValues([
      ["commit", git.commit ?? "(no commit yet)"],
      ["branch", git.branch ?? "(detached)"],
      ["remote", git.remote ?? "—"],
      ["working tree", git.dirty ? `uncommitted changes${git.diffBytes ? ` (${formatBytes(git.diffBytes)} diff, below)` : ""}` : "clean"],
    ]),
  );
  return section;
}

/** The uncommitted changes recorded at init (`git diff HEAD`), when there were any. */
function gitDiffSection(e: ExperimentJson): HTMLElement | null {
  if (!e.git?.diff) return null;
  const holder = h("div", { class: "diff-holder" }, h("p", { class: "muted" }, "Loading the diff…"));
  getJson<{ diff: string | null }>(`/api/experiments/${segment(e.id)}/diff`).then(
    (result) => replace(holder, result.diff ? diffView(result.diff) : h("p", { class: "muted" }, "Empty.")),
    (error: Error) => replace(holder, h("p", { class: "error" }, error.message)),
  );
  return h("section", { class: "card", id: "diff" }, h("details", { open: e.git.diffBytes < 50_000 }, h("summary", {}, h("h2", { class: "inline" }, "Uncommitted changes"), h("span", { class: "muted small" }, " git diff HEAD, when it started")), holder));
}

function dependenciesSection(e: ExperimentJson): HTMLElement {
  const entries = Object.entries(e.dependencies);
  return h(
    "section",
    { class: "card", id: "dependencies" },
    h("details", {}, h("summary", {}, h("h2", { class: "inline" }, "Dependencies"), h("span", { class: "muted small" }, ` ${entries.length}`)),
      entries.length
        ? h("table", { class: "data" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Installed"), h("th", {}, "Declared"), h("th", {}, "Source"))), h("tbody", {}, entries.map(([name, d]) => h("tr", {}, h("td", { class: "mono" }, name), h("td", { class: "mono" }, d.installed ?? "—"), h("td", { class: "mono" }, d.declared ?? "—"), h("td", {}, d.source)))))
        : h("p", { class: "muted" }, "None recorded."),
    ),
  );
}
