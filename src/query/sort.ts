/**
 * The sort language: `FIELD[:asc|desc]`, and a row comparator.
 */
import { queryError } from "./error.js";
import { badFieldChar } from "./parse.js";
import { scanQuoted } from "./tokenize.js";
import type { QueryRow } from "./types.js";
import { cell, type Present } from "./value.js";

/** Sort direction. */
export type SortDirection = "asc" | "desc";

/** A parsed sort: one field and a direction. */
export interface SortSpec {
  field: string;
  direction: SortDirection;
}

/**
 * The direction used when a sort names none: `desc` for `created` (newest first), `asc` for
 * everything else.
 *
 * @example
 * defaultSortDirection("created");      // "desc"
 * defaultSortDirection("metrics.loss"); // "asc"
 */
export function defaultSortDirection(field: string): SortDirection {
  return field === "created" ? "desc" : "asc";
}

/**
 * Parses `FIELD[:asc|desc]` (direction case-insensitive; spaces around the parts are allowed).
 * Without a direction: `desc` for `created`, `asc` otherwise. FIELD is letters, digits, `_`, `-`,
 * `.`, or any text in backticks. Throws INVALID_FILTER (with `details.position`) on an empty or
 * malformed field or a direction other than asc/desc.
 *
 * @example
 * parseSort("metrics.loss");          // { field: "metrics.loss", direction: "asc" }
 * parseSort("created");               // { field: "created", direction: "desc" }
 * parseSort("`params.learning rate`:desc");
 */
export function parseSort(spec: string): SortSpec {
  if (typeof spec !== "string") {
    throw queryError("sort", String(spec), 0, `a sort must be a string, not ${typeof spec}`);
  }
  let i = 0;
  const skipSpaces = (): void => {
    while (i < spec.length && /\s/.test(spec[i] as string)) i += 1;
  };
  skipSpaces();
  const fieldStart = i;
  let field: string;
  if (spec[i] === "`") {
    const quoted = scanQuoted(spec, i, "sort");
    field = quoted.value;
    i = quoted.end;
    if (field === "") throw queryError("sort", spec, fieldStart, "empty field name");
  } else {
    while (i < spec.length && spec[i] !== ":" && !/\s/.test(spec[i] as string)) i += 1;
    field = spec.slice(fieldStart, i);
    if (field === "") {
      throw queryError("sort", spec, fieldStart, "expected a field name", {
        hint: "write FIELD or FIELD:asc or FIELD:desc",
        details: { expected: "field" },
      });
    }
    const bad = badFieldChar(field);
    if (bad) {
      throw queryError("sort", spec, fieldStart + bad.offset, `unexpected ${JSON.stringify(bad.char)} in field name ${JSON.stringify(field)}`, {
        hint: "field names use letters, digits, _, - and .; put other names in backticks",
        details: { expected: "field" },
      });
    }
  }
  skipSpaces();
  if (i >= spec.length) return { field, direction: defaultSortDirection(field) };
  if (spec[i] !== ":") {
    throw queryError("sort", spec, i, `expected ":" after the field, found ${JSON.stringify(spec.slice(i))}`, {
      hint: "write FIELD or FIELD:asc or FIELD:desc",
      details: { expected: ":" },
    });
  }
  const colon = i;
  i += 1;
  skipSpaces();
  const rest = spec.slice(i).trimEnd();
  const direction = rest.toLowerCase();
  if (direction === "asc" || direction === "desc") return { field, direction };
  if (rest === "") {
    throw queryError("sort", spec, colon, 'expected "asc" or "desc" after ":"', { details: { expected: "asc, desc" } });
  }
  throw queryError("sort", spec, i, `expected "asc" or "desc" after ":", found ${JSON.stringify(rest)}`, {
    details: { expected: "asc, desc" },
  });
}

/** Made on first use: creating an ICU collator takes 20-50 ms, which every `cairn` run would pay. */
let collator: Intl.Collator | undefined;

/** Numbers, then strings, then booleans, when one column mixes types. */
function typeRank(value: Present): number {
  return typeof value === "number" ? 0 : typeof value === "string" ? 1 : 2;
}

function comparePresent(a: Present, b: Present): number {
  const rank = typeRank(a) - typeRank(b);
  if (rank !== 0) return rank;
  if (typeof a === "string") return (collator ??= new Intl.Collator("en", { numeric: true })).compare(a, b as string);
  return a < b ? -1 : a > b ? 1 : 0;
}

function isLast(value: Present | null): boolean {
  return value === null || (typeof value === "number" && Number.isNaN(value));
}

/**
 * Compares two rows for `Array.prototype.sort`. Missing, null and NaN values always sort last,
 * whatever the direction. Numbers compare numerically (-Infinity first, Infinity last among
 * numbers when ascending), strings with `Intl.Collator("en", { numeric: true })` (so "run-9" comes
 * before "run-10"), booleans false before true; a column that mixes types puts numbers, then
 * strings, then booleans. `desc` reverses all of that except the place of missing values. Equal
 * rows compare 0: a stable tie-break is the caller's business.
 *
 * @example
 * rows.sort((a, b) => compareRows(a, b, parseSort("metrics.loss")) || a.id.localeCompare(b.id));
 */
export function compareRows(a: QueryRow, b: QueryRow, sort: SortSpec): number {
  const x = cell(a, sort.field);
  const y = cell(b, sort.field);
  const xLast = isLast(x);
  const yLast = isLast(y);
  if (xLast || yLast) return xLast === yLast ? 0 : xLast ? 1 : -1;
  const order = comparePresent(x as Present, y as Present);
  if (order === 0) return 0;
  return sort.direction === "desc" ? -order : order;
}
