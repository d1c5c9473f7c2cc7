import { getJson, segment } from "./api.js";
import { MetricChart, colorOf } from "./chart.js";
import { h, replace } from "./dom.js";
import { formatBytes, formatMetric, formatValue, shortId } from "./format.js";
import type { Cleanup } from "./main.js";
import { Poller } from "./poll.js";
import { mergeSeries } from "./series.js";
import { statusBadge } from "./status.js";
import type { Comparison, Series, Value, ValueDifference } from "./types.js";

const POLL_MS = 3000;
/** Series requests in flight at once (a browser opens about six connections per host). */
const PARALLEL = 6;

/**
 * The comparison: every metric of the chosen experiments overlaid on one chart per metric
 * (legend, drag to zoom, values at the cursor), and the table of what differs between them, the
 * same as `cairn diff`. Curves of running experiments grow as they train.
 *
 * @example
 * const leave = showCompare(document.getElementById("app")!, ["e510303", "a1b2c3d"]);
 */
export function showCompare(root: HTMLElement, ids: string[]): Cleanup {
  let left = false;
  let poller: Poller | null = null;
  const charts = new Map<string, MetricChart>();
  const series = new Map<string, Series>();
  let comparison: Comparison | null = null;
  const chartGrid = h("div", { class: "charts wide", id: "charts" });
  replace(root, h("p", { class: "muted" }, "Loading…"));
  if (ids.length === 0) {
    replace(root, h("p", { class: "empty" }, "Choose experiments to compare in the ", h("a", { href: "#/" }, "experiments table"), "."));
    return () => {};
  }

  async function start(): Promise<void> {
    comparison = await getJson<Comparison>(`/api/compare?ids=${ids.map(encodeURIComponent).join(",")}`);
    if (left) return;
    layout(comparison);
    const total = comparison.experiments.length;
    const progress = (): void => replace(chartGrid, h("p", { class: "muted" }, `Loading the curves: ${series.size} of ${total} experiments…`));
    progress();
    await fetchSeries(comparison.experiments.map((e) => e.id), progress);
    if (left) return;
    chartGrid.replaceChildren();
    renderCharts();
    if (comparison.experiments.some((e) => e.status === "running")) poller = new Poller(refresh, POLL_MS);
  }

  async function fetchSeries(which: string[], onEach: () => void = () => {}): Promise<void> {
    const queue = [...which];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const current = series.get(id);
        const update = await getJson<Series>(`/api/experiments/${segment(id)}/series?digits=6${current ? `&from=${current.count}` : ""}`);
        series.set(id, current ? mergeSeries(current, update) : update);
        if (!left) onEach();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  }

  async function refresh(): Promise<void> {
    const running = [...series.values()].filter((s) => s.status === "running").map((s) => s.id);
    if (running.length === 0) {
      poller?.stop();
      return;
    }
    await fetchSeries(running);
    if (!left) renderCharts();
  }

  function labels(c: Comparison): string[] {
    return c.experiments.map((e, index) => {
      const params = c.differences.params.map((d) => `${d.key}=${formatValue(d.values[index])}`).join(" ");
      return params ? `${shortId(e.id)} ${params.length > 48 ? `${params.slice(0, 47)}…` : params}` : shortId(e.id);
    });
  }

  function layout(c: Comparison): void {
    const names = labels(c);
    const legend = h(
      "ul",
      { class: "legend", id: "legend" },
      c.experiments.map((e, index) => h("li", {}, h("span", { class: "swatch", style: `background:${colorOf(index)}` }), h("a", { href: `#/experiments/${e.id}`, class: "mono" }, names[index]!), " ", statusBadge(e.status))),
    );
    replace(
      root,
      h(
        "div",
        { class: "compare-page" },
        h("div", { class: "page-head" }, h("a", { href: "#/", class: "back" }, "← Experiments"), h("h1", {}, `Comparing ${c.experiments.length} experiments`), legend),
        h("section", { class: "card" }, h("h2", {}, "Metrics", h("span", { class: "muted small" }, " drag to zoom, double-click to zoom out")), chartGrid),
        h("section", { class: "card", id: "differences" }, h("h2", {}, "Differences"), differenceTable(c)),
      ),
    );
  }

  function renderCharts(): void {
    if (!comparison) return;
    const metricNames = [...new Set([...series.values()].flatMap((s) => Object.keys(s.metrics)))].sort();
    if (metricNames.length === 0) replace(chartGrid, h("p", { class: "muted" }, "None of these experiments has metrics yet."));
    for (const metric of metricNames) {
      let chart = charts.get(metric);
      if (!chart) {
        const box = h("div", { class: "chart" });
        chartGrid.append(h("figure", { class: "chart-card", "data-metric": metric }, h("figcaption", {}, metric), box));
        chart = new MetricChart(box, metric, 300);
        charts.set(metric, chart);
      }
      const lines = comparison.experiments.flatMap((e, index) => {
        const s = series.get(e.id);
        const y = s?.metrics[metric];
        return s && y ? [{ label: shortId(e.id), color: colorOf(index), x: s.step, y }] : [];
      });
      chart.update(lines);
    }
  }

  start().catch((error: Error) => {
    if (!left) replace(root, h("div", { class: "page-head" }, h("a", { href: "#/", class: "back" }, "← Experiments"), h("p", { class: "error" }, error.message)));
  });
  return () => {
    left = true;
    poller?.stop();
    for (const chart of charts.values()) chart.destroy();
  };
}

/** The differences, one section per kind, one column per experiment. */
function differenceTable(c: Comparison): HTMLElement {
  const d = c.differences;
  const head = h("tr", {}, h("th", {}, ""), c.experiments.map((e, index) => h("th", {}, h("span", { class: "swatch", style: `background:${colorOf(index)}` }), h("span", { class: "mono" }, shortId(e.id)))));
  const rows: HTMLElement[] = [];
  const section = (title: string, items: ValueDifference[], metric = false): void => {
    if (items.length === 0) return;
    rows.push(h("tr", { class: "section" }, h("th", { colspan: c.experiments.length + 1 }, title)));
    for (const item of items) rows.push(h("tr", {}, h("th", { class: "mono key" }, item.key), item.values.map((v) => h("td", { class: "mono" }, cell(v, metric)))));
  };
  section("Params", d.params);
  section("Metrics (best checkpoint, else latest)", d.metrics, true);
  section("Environment", d.environment);
  section("Dependencies", d.dependencies);
  if (d.code.length) {
    rows.push(h("tr", { class: "section" }, h("th", { colspan: c.experiments.length + 1 }, "Code files (compared with the first)")));
    for (const file of d.code) {
      rows.push(h("tr", {}, h("th", { class: "mono key" }, file.path, h("span", { class: `change ${file.change}` }, ` ${file.change}`)), file.size.map((size) => h("td", { class: "mono" }, size === null ? "—" : formatBytes(size)))));
    }
  }
  if (rows.length === 0) return h("p", { class: "muted" }, "Nothing differs: same params, metrics, environment and code.");
  return h("div", { class: "table-wrap" }, h("table", { class: "data diff-table", id: "diff-table" }, h("thead", {}, head), h("tbody", {}, rows)));
}

function cell(value: Value, metric: boolean): string {
  if (value === null) return "—";
  return metric && (typeof value === "number" || typeof value === "string") ? formatMetric(value) : formatValue(value);
}
