/**
 * JSON for scripts. JSON has no NaN or infinities; like the repository format, they become the
 * strings "NaN", "Infinity" and "-Infinity" so a diverging run never breaks a script's parser.
 * Dates become ISO strings (their own toJSON).
 *
 * @example
 * toJsonText({ loss: NaN }); // '{\n  "loss": "NaN"\n}\n'
 */
export function toJsonText(value: unknown): string {
  return (
    JSON.stringify(
      value,
      (_key, item: unknown) => {
        if (typeof item === "number" && !Number.isFinite(item)) return Number.isNaN(item) ? "NaN" : item > 0 ? "Infinity" : "-Infinity";
        return item;
      },
      2,
    ) + "\n"
  );
}
