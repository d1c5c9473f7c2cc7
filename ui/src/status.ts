import { h } from "./dom.js";
import type { Status } from "./types.js";

/** The status badge; a running one pulses. @example statusBadge("running") */
export function statusBadge(status: Status): HTMLElement {
  return h("span", { class: `status status-${status}`, title: status }, h("span", { class: "dot", "aria-hidden": "true" }), status);
}
