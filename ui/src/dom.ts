/**
 * A tiny DOM builder: the page is plain DOM, no framework, so it starts instantly and the bundle
 * stays small. Text always goes in as text nodes, never as HTML: repository contents (params,
 * file names, code) cannot inject markup.
 */

type Child = Node | string | number | null | undefined | false | Child[];
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element with attributes (`on…` keys become listeners; `class`, `title`, data-…) and
 * children (strings become text nodes; null/false are skipped; arrays are flattened).
 *
 * @example
 * h("a", { href: "#/", class: "link" }, "Experiments");
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/** Appends children as h() does. @example append(list, [h("li", {}, "one")]) */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's children. @example replace(main, h("p", {}, "Loading…")) */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
