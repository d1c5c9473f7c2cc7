import { filePath, getBytes, link, segment } from "./api.js";
import { h, replace } from "./dom.js";
import { formatBytes } from "./format.js";
import type { TreeEntry } from "./types.js";

/** Files above this size are offered for download only (the server's limit too). */
const MAX_SHOWN = 2 * 1024 * 1024;

/**
 * The code snapshot: the file list beside the selected file's text. Text is shown as text (never
 * as HTML); a binary file or a very large one gets a download link instead.
 *
 * @example
 * container.append(codeBrowser(experimentId, files));
 */
export function codeBrowser(experimentId: string, files: TreeEntry[]): HTMLElement {
  const viewer = h("div", { class: "code-viewer" });
  const list = h("ul", { class: "file-list", role: "listbox", "aria-label": "Files of the code snapshot" });
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  let directory = "";
  let current: HTMLElement | null = null;
  for (const file of sorted) {
    const slash = file.path.lastIndexOf("/");
    const folder = slash === -1 ? "" : file.path.slice(0, slash + 1);
    if (folder !== directory) {
      directory = folder;
      if (folder) list.append(h("li", { class: "folder" }, folder));
    }
    const item = h(
      "li",
      { class: `file${folder ? " nested" : ""}`, role: "option", tabindex: 0, "data-path": file.path, title: file.path },
      h("span", { class: "name" }, slash === -1 ? file.path : file.path.slice(slash + 1)),
      h("span", { class: "size" }, formatBytes(file.size)),
    );
    const open = (): void => {
      current?.classList.remove("active");
      current?.setAttribute("aria-selected", "false");
      item.classList.add("active");
      item.setAttribute("aria-selected", "true");
      current = item;
      void show(viewer, experimentId, file);
    };
    item.addEventListener("click", open);
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open();
      }
    });
    list.append(item);
  }
  const first = sorted.find((f) => /(^|\/)(train|main)\.[a-z]+$/.test(f.path)) ?? sorted.find((f) => !f.path.includes("/")) ?? sorted[0];
  const element = h("div", { class: "code-browser" }, list, viewer);
  if (first) (list.querySelector(`[data-path="${CSS.escape(first.path)}"]`) as HTMLElement | null)?.click();
  else replace(viewer, h("p", { class: "muted" }, "The code snapshot is empty."));
  return element;
}

async function show(viewer: HTMLElement, experimentId: string, file: TreeEntry): Promise<void> {
  const path = `/api/experiments/${segment(experimentId)}/code/${filePath(file.path)}`;
  const header = h("div", { class: "viewer-head" }, h("span", { class: "mono path" }, file.path), h("span", { class: "muted" }, formatBytes(file.size)), h("a", { href: link(`${path}?download=1`), class: "download", download: "" }, "Download"));
  if (file.size > MAX_SHOWN) {
    replace(viewer, header, h("p", { class: "muted" }, "Too large to show here; download it."));
    return;
  }
  replace(viewer, header, h("p", { class: "muted" }, "Loading…"));
  try {
    const bytes = new Uint8Array(await getBytes(path));
    if (bytes.subarray(0, 8000).includes(0)) {
      replace(viewer, header, h("p", { class: "muted" }, "A binary file; download it to look inside."));
      return;
    }
    const text = new TextDecoder().decode(bytes);
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    const code = h("code", {});
    code.append(...lines.map((line) => h("span", { class: "line" }, line, "\n")));
    replace(viewer, header, h("pre", { class: "code", "data-path": file.path }, code));
  } catch (error) {
    replace(viewer, header, h("p", { class: "error" }, (error as Error).message));
  }
}

/** A git diff with added, removed and hunk lines colored. @example diffView("diff --git …") */
export function diffView(diff: string): HTMLElement {
  const code = h("code", {});
  for (const line of diff.split("\n")) {
    const kind = line.startsWith("diff --git") || line.startsWith("+++") || line.startsWith("---") || line.startsWith("index ") ? "file" : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
    code.append(h("span", { class: `line ${kind}` }, line, "\n"));
  }
  return h("pre", { class: "code diff" }, code);
}
