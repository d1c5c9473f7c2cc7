import { ApiError } from "./api.js";
import { h, replace } from "./dom.js";

/**
 * The filter input, in the CLI's language. An invalid filter is explained in place: the part
 * at the error's `details.position` is underlined inside the input (a mirror layer behind the
 * transparent input draws the mark) and the message appears under it.
 *
 * @example
 * const box = new FilterBox("params.lr < 0.01", (text) => apply(text));
 * toolbar.append(box.element);
 */
export class FilterBox {
  readonly element: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly mirror: HTMLElement;
  private readonly message: HTMLElement;
  private timer: number | null = null;

  constructor(initial: string, private readonly onChange: (text: string) => void) {
    this.input = h("input", {
      id: "filter",
      type: "text",
      value: initial,
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "Filter: params.lr < 0.01 and status = running",
      "aria-label": "Filter experiments",
      "aria-describedby": "filter-error",
    });
    this.mirror = h("div", { class: "filter-mirror", "aria-hidden": "true" });
    this.message = h("div", { class: "filter-error", id: "filter-error", role: "alert", hidden: true });
    this.element = h("div", { class: "filter" }, h("div", { class: "filter-field" }, this.mirror, this.input), this.message);
    this.input.addEventListener("input", () => {
      this.clearMark();
      if (this.timer !== null) window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.onChange(this.input.value), 450);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        if (this.timer !== null) window.clearTimeout(this.timer);
        this.onChange(this.input.value);
      } else if (event.key === "Escape" && this.input.value !== "") {
        this.input.value = "";
        this.clearMark();
        this.onChange("");
      }
    });
    this.input.addEventListener("scroll", () => (this.mirror.scrollLeft = this.input.scrollLeft));
  }

  /** Shows an error of the API; true when it was about the filter or sort and is now shown. */
  showError(error: unknown): boolean {
    if (!(error instanceof ApiError) || error.code !== "INVALID_FILTER") return false;
    const details = error.details;
    const source = typeof details.filter === "string" ? details.filter : typeof details.sort === "string" ? details.sort : null;
    const kind = typeof details.sort === "string" ? "sort" : "filter";
    const lines = error.message.split("\n");
    const prefix = source === null ? "" : `Invalid ${kind} ${JSON.stringify(source)}: `;
    const problem = lines[0]!.startsWith(prefix) ? lines[0]!.slice(prefix.length) : lines[0]!;
    const footer = source === null ? lines.slice(1) : lines.slice(3);
    replace(
      this.message,
      h("span", { class: "problem" }, kind === "sort" ? `Sort: ${problem}` : problem),
      footer.length ? h("span", { class: "footer" }, footer.join(" ")) : null,
    );
    this.message.hidden = false;
    this.input.setAttribute("aria-invalid", "true");
    if (kind === "filter" && source === this.input.value && typeof details.position === "number") this.mark(source, details.position);
    return true;
  }

  clearError(): void {
    this.message.hidden = true;
    this.input.removeAttribute("aria-invalid");
    this.clearMark();
  }

  /** Underlines the token at `position` (to the next space), or a blank at the end of the text. */
  private mark(text: string, position: number): void {
    const at = Math.max(0, Math.min(position, text.length));
    const rest = text.slice(at);
    const length = at >= text.length ? 0 : Math.max(1, /^\S*/.exec(rest)![0].length);
    replace(this.mirror, text.slice(0, at), h("mark", { class: "bad" }, length === 0 ? "\u00a0\u00a0" : text.slice(at, at + length)), text.slice(at + length));
    this.mirror.scrollLeft = this.input.scrollLeft;
  }

  private clearMark(): void {
    this.mirror.replaceChildren();
  }
}
