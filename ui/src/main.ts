/**
 * The page's entry: a hash router over three pages. `#/` the experiments table (its filter and
 * sort in the hash's query), `#/experiments/ID` one experiment, `#/compare?ids=A,B` the
 * comparison. The hash keeps the page's `?token=` (when there is one) untouched.
 */
import "./style.css";
import { getJson } from "./api.js";
import { h, replace } from "./dom.js";
import { showCompare } from "./compare-page.js";
import { showExperiment } from "./experiment-page.js";
import { showTable } from "./table-page.js";

/** What a page returns: how to leave it (stop polling, free charts). */
export type Cleanup = () => void;

const app = document.getElementById("app")!;
let leave: Cleanup | null = null;

function route(): void {
  leave?.();
  leave = null;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?", 2) as [string, string?];
  const params = new URLSearchParams(query);
  window.scrollTo(0, 0);
  const experiment = /^\/experiments\/([^/]+)$/.exec(path);
  if (experiment) leave = showExperiment(app, decodeURIComponent(experiment[1]!));
  else if (path === "/compare") leave = showCompare(app, (params.get("ids") ?? "").split(",").filter(Boolean));
  else if (path === "/") leave = showTable(app, params);
  else replace(app, h("p", { class: "empty" }, "No such page. ", h("a", { href: "#/" }, "Back to the experiments.")));
}

window.addEventListener("hashchange", route);
route();

getJson<{ url: string }>("/api/repository").then(
  (info) => {
    const element = document.getElementById("repository");
    if (element) element.textContent = info.url;
    document.title = `Cairn · ${info.url.split("/").slice(-2).join("/")}`;
  },
  () => {},
);
