import { differingKeys } from "../../api/diff.js";
import type { QueryValue } from "../../query/index.js";
import type { ExperimentStatus } from "../../repository/types.js";
import type { Colors } from "../output/colors.js";
import { checkpointCell, shortId, statusText } from "../output/describe.js";
import { formatValue } from "../output/format.js";
import { tableParams } from "../output/params.js";
import { truncate, visibleLength } from "../output/table.js";
import { relativeTime } from "../output/time.js";
import type { TableExperiment } from "./listing-rows.js";

/** Longest param value shown in a table cell; --json has the whole value. */
const MAX_PARAM_WIDTH = 40;
/** Spaces between columns, as renderTable puts them. */
const GAP = "  ";

/**
 * The columns after STATUS in one layout of the `ls` table: their headers and widths, and each
 * row's cells in them, padded to those widths, joined and with trailing spaces trimmed, as
 * renderTable lays them out.
 */
export interface ListingLayout {
  headers: string[];
  widths: number[];
  tails: string[];
}

/**
 * The part of the `ls` table that depends only on the experiments listed, not on the clock:
 * IDs, start times, and the columns after STATUS already laid out, in both layouts: `plain`
 * (USER and HOST only when they vary, only the params whose values differ) and `all` (--all).
 * STARTED and STATUS are made when the table is shown. Kept whole by listing-view-cache.ts, so
 * that a repeated `cairn ls` formats nothing but those two columns.
 */
export interface ListingTable {
  /** Full experiment IDs, one per row. */
  ids: string[];
  /** Start times in milliseconds since the epoch, one per row. */
  created: number[];
  plain: ListingLayout;
  all: ListingLayout;
}

/** A column after STATUS: its header and every row's cell (colour-free); `always`: shown without --all. */
interface Column {
  header: string;
  always: boolean;
  cells: string[];
}

/**
 * The table of `rows` (in the order given): USER and HOST (in the plain layout only when they
 * vary), params flattened to dotted keys (in the plain layout only when their values differ),
 * then the best and latest checkpoints with the primary metric.
 *
 * @example
 * const table = listingTable(experiments.map(fromExperiment));
 * table.plain.headers; // ["lr", "BEST CHECKPOINT", "LATEST CHECKPOINT"]
 */
export function listingTable(rows: TableExperiment[]): ListingTable {
  const users = rows.map((e) => e.user);
  const hosts = rows.map((e) => e.host);
  const params = rows.map((e) => tableParams(e.params));
  const differing = new Set(differingKeys(params));
  const columns: Column[] = [
    { header: "USER", always: varies(users), cells: users.map((user) => user ?? "-") },
    { header: "HOST", always: varies(hosts), cells: hosts.map((host) => host ?? "-") },
    ...unionKeys(params).map((key) => ({
      header: key,
      always: differing.has(key),
      cells: params.map((row) => truncate(formatValue(row[key] as QueryValue | undefined), MAX_PARAM_WIDTH)),
    })),
    { header: "BEST CHECKPOINT", always: true, cells: rows.map((e) => checkpointCell(e.best, e.primaryMetric)) },
    { header: "LATEST CHECKPOINT", always: true, cells: rows.map((e) => checkpointCell(e.latest, e.primaryMetric)) },
  ];
  // A column is as wide in both layouts. Each layout pads its cells as it joins them, from one
  // string of spaces: padding every cell first made 110,000 strings more for 10,000 rows.
  const lengths = columns.map((column) => column.cells.map(visibleLength));
  const widths = columns.map((column, i) => {
    let width = visibleLength(column.header);
    for (const length of lengths[i]!) if (length > width) width = length;
    return width;
  });
  const spaces = " ".repeat(Math.max(0, ...widths) + GAP.length);
  const layout = (shown: (column: Column) => boolean): ListingLayout => {
    const chosen = columns.map((_, i) => i).filter((i) => shown(columns[i]!));
    const tails: string[] = [];
    for (let r = 0; r < rows.length; r++) {
      let tail = "";
      for (let k = 0; k < chosen.length; k++) {
        const column = chosen[k]!;
        // The gap before this cell, and the padding that ends the one before it.
        if (k > 0) tail += spaces.slice(0, widths[chosen[k - 1]!]! - lengths[chosen[k - 1]!]![r]! + GAP.length);
        tail += columns[column]!.cells[r]!;
      }
      tails.push(tail.trimEnd());
    }
    return { headers: chosen.map((i) => columns[i]!.header), widths: chosen.map((i) => widths[i]!), tails };
  };
  return { ids: rows.map((e) => e.id), created: rows.map((e) => e.created.getTime()), plain: layout((column) => column.always), all: layout(() => true) };
}

/**
 * The table as `cairn ls` prints it: ID (yellow), STARTED (relative to `now`), STATUS (coloured),
 * then the layout's columns (`all`: --all), aligned as renderTable aligns them, header in bold.
 * `statuses` has one entry per row.
 *
 * @example
 * process.stdout.write(renderListingTable(table, statuses, new Date(), colors, false));
 */
export function renderListingTable(table: ListingTable, statuses: ExperimentStatus[], now: Date, c: Colors, all: boolean): string {
  const { headers, widths, tails } = all ? table.all : table.plain;
  const ids = table.ids.map(shortId);
  const started = table.created.map((created) => relativeTime(new Date(created), now));
  // Widths as renderTable measures them: what is visible, header included.
  const idWidth = widthOf("ID", ids);
  const startedWidth = widthOf("STARTED", started);
  const statusWidth = widthOf("STATUS", statuses);

  const header = [pad(c.bold("ID"), 2, idWidth), pad(c.bold("STARTED"), 7, startedWidth), pad(c.bold("STATUS"), 6, statusWidth)];
  headers.forEach((name, i) => header.push(pad(c.bold(name), visibleLength(name), widths[i]!)));
  // One string for the whole table, written in one go. Each line is its three clock-dependent
  // cells and the rest laid out beforehand; only a line with nothing after STATUS can end in
  // spaces, and is trimmed as renderTable trims every line.
  let out = `${header.join(GAP).trimEnd()}\n`;
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r]!;
    const status = statuses[r]!;
    const line = pad(c.yellow(id), visibleLength(id), idWidth) + GAP + pad(started[r]!, started[r]!.length, startedWidth) + GAP + pad(statusText(status, c), status.length, statusWidth);
    const tail = tails[r]!;
    out += tail === "" ? `${line.trimEnd()}\n` : `${line}${GAP}${tail}\n`;
  }
  return out;
}

/** `text` (whose visible length is `length`) followed by spaces up to `width`. */
function pad(text: string, length: number, width: number): string {
  return width > length ? text + " ".repeat(width - length) : text;
}

function widthOf(header: string, cells: readonly string[]): number {
  let width = visibleLength(header);
  for (const cell of cells) width = Math.max(width, visibleLength(cell));
  return width;
}

function varies(values: unknown[]): boolean {
  return new Set(values).size > 1;
}

function unionKeys(records: Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys];
}
