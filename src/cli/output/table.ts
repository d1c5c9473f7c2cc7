import { stripAnsi } from "./colors.js";

export type Align = "left" | "right";

export interface TableOptions {
  /** Per-column alignment; left when absent. */
  align?: Align[];
  /** Spaces between columns (2 by default). */
  gap?: number;
  /** Characters put before every line, e.g. "  " to indent a table under a heading. */
  indent?: string;
}

/**
 * Lays rows of cells out in aligned columns, measuring what is visible (colour codes do not
 * count). The first row is usually the header. Trailing spaces are trimmed from every line.
 * A row with fewer cells than others leaves the rest empty.
 *
 * @example
 * renderTable([["ID", "STATUS"], ["e510303", c.green("running")]]);
 * // "ID       STATUS\ne510303  running\n"
 */
export function renderTable(rows: string[][], options: TableOptions = {}): string {
  const gap = " ".repeat(options.gap ?? 2);
  const indent = options.indent ?? "";
  // Measured once per cell; most cells have no colour codes and need no regular expression.
  const lengths = rows.map((row) => row.map(visibleLength));
  const widths: number[] = [];
  for (const row of lengths) {
    for (let index = 0; index < row.length; index++) widths[index] = Math.max(widths[index] ?? 0, row[index]!);
  }
  // One string for the whole table: `cairn ls` of 10,000 experiments writes it in one go.
  let out = "";
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    let line = indent;
    for (let index = 0; index < row.length; index++) {
      const cell = row[index]!;
      const padding = " ".repeat((widths[index] ?? 0) - lengths[r]![index]!);
      if (index > 0) line += gap;
      line += options.align?.[index] === "right" ? padding + cell : cell + padding;
    }
    out += line.trimEnd() + "\n";
  }
  return out;
}

/**
 * How many characters of `cell` a person sees: colour codes do not count.
 *
 * @example
 * visibleLength(c.red("crashed")); // 7
 */
export function visibleLength(cell: string): number {
  return cell.includes("\x1b") ? stripAnsi(cell).length : cell.length;
}

/**
 * Key/value lines with the values aligned, for `show`.
 *
 * @example
 * renderFields([["status", "stopped"], ["created", "3 minutes ago"]], "  ");
 * // "  status   stopped\n  created  3 minutes ago\n"
 */
export function renderFields(fields: [string, string][], indent = "  "): string {
  return renderTable(fields, { indent });
}

/**
 * Cuts a cell to `max` visible characters with an ellipsis, so one long param cannot push the
 * other columns off the screen. Colour-free text only.
 *
 * @example
 * truncate("a very long value", 8); // "a very …"
 */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}
