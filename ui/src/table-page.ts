import { getJson } from "./api.js";
import { h, replace } from "./dom.js";
import { FilterBox } from "./filter-box.js";
import { absoluteTime, formatMetric, formatValue, relativeTime, shortId } from "./format.js";
import type { Cleanup } from "./main.js";
import { Poller } from "./poll.js";
import { statusBadge } from "./status.js";
import type { Listing, TableRow } from "./types.js";

/** Row height in pixels: fixed, so the table can be virtualised (only visible rows exist). */
const ROW_HEIGHT = 34;
/** Rows fetched per request. */
const CHUNK = 100;
/** Rows rendered beyond the visible ones, above and below. */
const OVERSCAN = 10;
const POLL_MS = 3000;

interface Column {
  key: string;
  /** The query field the column sorts by. */
  field: string | null;
  label: string;
  sublabel?: string;
  width: number;
  className?: string;
  cell(row: TableRow): Node | string;
}

/**
 * The experiments page: a table like `cairn ls`, sorted and filtered by the server (the CLI's
 * language), virtualised so 10,000 rows cost what 50 do: the page asks for windows of 100 rows
 * as they scroll into view. Several experiments can be selected and compared. Visible rows are
 * refreshed every few seconds, so running experiments move without a reload.
 *
 * @example
 * const leave = showTable(document.getElementById("app")!, new URLSearchParams("sort=metrics.loss"));
 */
export function showTable(root: HTMLElement, query: URLSearchParams): Cleanup {
  let filter = query.get("filter") ?? "";
  let sort = query.get("sort") ?? "";
  const selected = new Set<string>((query.get("selected") ?? "").split(",").filter(Boolean));
  let generation = 0;
  /** Windows of rows by index, with the listing time they were read at. */
  let chunks = new Map<number, { rows: TableRow[]; loadedAt: string }>();
  const inflight = new Set<number>();
  let listing: Listing | null = null;
  let columns: Column[] = [];
  let columnSignature = "";
  let frame = 0;

  const filterBox = new FilterBox(filter, (text) => {
    filter = text.trim();
    reset();
  });
  const count = h("span", { class: "count", id: "count" });
  const compareButton = h("button", { class: "primary", id: "compare", type: "button", disabled: true, onclick: () => {
    location.hash = `#/compare?ids=${[...selected].join(",")}`;
  } });
  const clearButton = h("button", { class: "quiet", type: "button", hidden: true, onclick: () => {
    selected.clear();
    updateSelection();
    render();
  } }, "Clear selection");
  const notice = h("div", { class: "notice", hidden: true });
  const colgroup = h("colgroup");
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "experiments", id: "experiments" }, colgroup, thead, tbody);
  const scroller = h("div", { class: "table-scroll" }, table);
  const empty = h("div", { class: "empty", hidden: true });
  replace(root, h("section", { class: "table-page" }, h("div", { class: "toolbar" }, filterBox.element, h("div", { class: "actions" }, count, clearButton, compareButton)), notice, scroller, empty));

  scroller.addEventListener("scroll", () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      render();
      void ensureVisible();
    });
  });
  const onResize = (): void => render();
  window.addEventListener("resize", onResize);

  function writeHash(): void {
    const params = new URLSearchParams();
    if (filter) params.set("filter", filter);
    if (sort) params.set("sort", sort);
    if (selected.size) params.set("selected", [...selected].join(","));
    const text = params.toString();
    // The hash keeps the table's state, so "back" from an experiment finds it as it was.
    history.replaceState(null, "", `#/${text ? `?${text}` : ""}`);
  }

  function listingPath(offset: number): string {
    const params = new URLSearchParams({ offset: String(offset), limit: String(CHUNK) });
    if (filter) params.set("filter", filter);
    if (sort) params.set("sort", sort);
    return `/api/experiments?${params}`;
  }

  /** New query: forget the rows, scroll to the top, fetch the first window. */
  function reset(): void {
    generation++;
    chunks = new Map();
    inflight.clear();
    writeHash();
    scroller.scrollTop = 0;
    void ensureVisible(true);
  }

  function visibleRange(): [number, number] {
    const total = listing?.matched ?? 0;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    return [first, last];
  }

  /** Fetches the windows of rows on screen (all of them again when `refresh`). */
  async function ensureVisible(refresh = false): Promise<void> {
    const [first, last] = listing ? visibleRange() : [0, CHUNK - 1];
    const wanted: number[] = [];
    for (let chunk = Math.floor(first / CHUNK); chunk <= Math.floor(Math.max(first, last) / CHUNK); chunk++) {
      const stale = chunks.get(chunk)?.loadedAt !== listing?.loadedAt;
      if ((refresh || stale) && !inflight.has(chunk)) wanted.push(chunk);
    }
    await Promise.all(wanted.map((chunk) => fetchChunk(chunk)));
  }

  async function fetchChunk(chunk: number): Promise<void> {
    const mine = generation;
    inflight.add(chunk);
    try {
      const result = await getJson<Listing>(listingPath(chunk * CHUNK));
      if (mine !== generation) return;
      filterBox.clearError();
      listing = result;
      chunks.set(chunk, { rows: result.rows, loadedAt: result.loadedAt });
      setColumns(result);
      render();
    } catch (error) {
      if (mine !== generation) return;
      if (!filterBox.showError(error)) showNotice(`Could not load experiments: ${(error as Error).message}`);
      if (listing === null) {
        empty.hidden = true;
        count.textContent = "";
      }
    } finally {
      if (mine === generation) inflight.delete(chunk);
    }
  }

  function showNotice(text: string | null): void {
    notice.hidden = text === null;
    notice.textContent = text ?? "";
  }

  function setColumns(result: Listing): void {
    const signature = JSON.stringify(result.columns);
    if (signature === columnSignature && columns.length) return;
    columnSignature = signature;
    columns = buildColumns(result, selected, () => updateSelection());
    replace(colgroup, columns.map((c) => h("col", { style: `width:${c.width}px` })));
    table.style.width = `${columns.reduce((sum, c) => sum + c.width, 0)}px`;
    renderHead();
  }

  function renderHead(): void {
    const [sortField, sortDirection] = parsedSort();
    replace(
      thead,
      h(
        "tr",
        {},
        columns.map((column) => {
          if (!column.field) return h("th", { class: column.className ?? "" });
          const active = column.field === sortField;
          return h(
            "th",
            { class: `${column.className ?? ""} sortable${active ? " sorted" : ""}`, "aria-sort": active ? (sortDirection === "asc" ? "ascending" : "descending") : "none", "data-field": column.field, title: `Sort by ${column.field}` },
            h(
              "button",
              { type: "button", onclick: () => toggleSort(column.field!) },
              column.sublabel ? h("span", { class: "sublabel" }, column.sublabel) : null,
              h("span", { class: "label" }, column.label),
              h("span", { class: "arrow", "aria-hidden": "true" }, active ? (sortDirection === "asc" ? "▲" : "▼") : ""),
            ),
          );
        }),
      ),
    );
  }

  function parsedSort(): [string, "asc" | "desc"] {
    if (!sort) return ["created", "desc"];
    const [field, direction] = sort.split(":");
    return [field!, direction === "desc" ? "desc" : direction === "asc" ? "asc" : field === "created" ? "desc" : "asc"];
  }

  function toggleSort(field: string): void {
    const [current, direction] = parsedSort();
    const next = current === field ? (direction === "asc" ? "desc" : "asc") : field === "created" || field === "checkpoints" ? "desc" : "asc";
    sort = `${field}:${next}`;
    renderHead();
    reset();
  }

  function updateSelection(): void {
    writeHash();
    compareButton.disabled = selected.size < 2;
    compareButton.textContent = selected.size < 2 ? "Compare" : `Compare ${selected.size}`;
    compareButton.title = selected.size < 2 ? "Select two or more experiments to compare" : "";
    clearButton.hidden = selected.size === 0;
  }

  function render(): void {
    if (!listing) return;
    const total = listing.matched;
    count.textContent = filter ? `${total.toLocaleString()} of ${listing.total.toLocaleString()} experiments` : `${listing.total.toLocaleString()} experiments`;
    const unreadable = listing.problems.length;
    if (unreadable > 0 && notice.hidden) {
      showNotice(`${unreadable} record${unreadable === 1 ? "" : "s"} could not be read and ${unreadable === 1 ? "is" : "are"} not listed: ${listing.problems.map((p) => p.message).slice(0, 3).join("; ")}`);
    }
    empty.hidden = total > 0;
    scroller.hidden = total === 0;
    if (total === 0) {
      replace(
        empty,
        listing.total === 0
          ? [h("h2", {}, "No experiments yet"), h("p", {}, "Record one from a training script:"), h("pre", {}, 'const experiment = await cairn.init({ path: ".", params: { lr: 0.01 } });\nawait experiment.checkpoint({ path: "model", metrics: { loss }, primaryMetric: ["loss", "minimize"] });')]
          : [h("p", {}, `No experiment matches the filter (${listing.total.toLocaleString()} in total).`)],
      );
      return;
    }
    const [first, last] = visibleRange();
    const rows: Node[] = [h("tr", { class: "spacer", style: `height:${first * ROW_HEIGHT}px` })];
    for (let index = first; index <= last; index++) {
      const row = chunks.get(Math.floor(index / CHUNK))?.rows[index % CHUNK];
      rows.push(row ? renderRow(row) : h("tr", { class: "placeholder" }, h("td", { colspan: columns.length }, "…")));
    }
    rows.push(h("tr", { class: "spacer", style: `height:${Math.max(0, total - last - 1) * ROW_HEIGHT}px` }));
    tbody.replaceChildren(...rows);
  }

  function renderRow(row: TableRow): HTMLElement {
    return h(
      "tr",
      {
        class: `${selected.has(row.id) ? "selected " : ""}status-row-${row.status}`,
        "data-id": row.id,
        onclick: (event: Event) => {
          const target = event.target as HTMLElement;
          if (target.closest("input, a, button")) return;
          location.hash = `#/experiments/${row.id}`;
        },
      },
      columns.map((column) => h("td", { class: column.className ?? "" }, column.cell(row))),
    );
  }

  updateSelection();
  // Until the first answer (a large remote repository takes a while to list the first time).
  count.textContent = "Loading…";
  scroller.hidden = true;
  empty.hidden = false;
  replace(empty, h("p", {}, "Reading the repository…"));
  void ensureVisible();
  const poller = new Poller(() => ensureVisible(true), POLL_MS);
  return () => {
    poller.stop();
    generation++;
    window.removeEventListener("resize", onResize);
    if (frame) cancelAnimationFrame(frame);
  };
}

/** The table's columns: fixed ones, the params that vary, best and latest of every metric. */
function buildColumns(listing: Listing, selected: Set<string>, onSelect: () => void): Column[] {
  const metric = (value: number | string | undefined): string => formatMetric(value);
  const columns: Column[] = [
    {
      key: "select",
      field: null,
      label: "",
      width: 40,
      className: "select",
      cell: (row) =>
        h("input", {
          type: "checkbox",
          "aria-label": `Select ${shortId(row.id)} to compare`,
          checked: selected.has(row.id),
          onchange: (event: Event) => {
            const box = event.target as HTMLInputElement;
            if (box.checked) selected.add(row.id);
            else selected.delete(row.id);
            box.closest("tr")?.classList.toggle("selected", box.checked);
            onSelect();
          },
        }),
    },
    { key: "id", field: "id", label: "ID", width: 92, className: "mono", cell: (row) => h("a", { href: `#/experiments/${row.id}`, class: "id" }, shortId(row.id)) },
    { key: "status", field: "status", label: "Status", width: 108, cell: (row) => statusBadge(row.status) },
    { key: "created", field: "created", label: "Started", width: 138, cell: (row) => h("span", { title: absoluteTime(row.created) }, relativeTime(row.created)) },
    { key: "user", field: "user", label: "User", width: 96, cell: (row) => row.user ?? "" },
  ];
  for (const param of listing.columns.params) {
    const label = param.replace(/^params\./, "");
    columns.push({ key: param, field: param, label, sublabel: "param", width: Math.min(180, Math.max(90, label.length * 9 + 30)), className: "param", cell: (row) => h("span", { title: formatValue(row.params[param]) }, formatValue(row.params[param])) });
  }
  for (const name of listing.columns.metrics) {
    columns.push({
      key: `metrics.${name}`,
      field: `metrics.${name}`,
      label: name,
      sublabel: "best",
      width: Math.max(96, name.length * 9 + 36),
      className: "num",
      cell: (row) => h("span", { class: row.primaryMetric?.name === name ? "primary" : "" }, metric(row.metrics[name])),
    });
  }
  for (const name of listing.columns.metrics) {
    columns.push({ key: `latest.${name}`, field: `latest.${name}`, label: name, sublabel: "latest", width: Math.max(96, name.length * 9 + 36), className: "num", cell: (row) => metric(row.latest[name]) });
  }
  columns.push({ key: "checkpoints", field: "checkpoints", label: "Checkpoints", width: 112, className: "num", cell: (row) => String(row.checkpoints) });
  return columns;
}
