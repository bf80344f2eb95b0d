// Tiny DOM helpers. Text from the API only ever becomes text nodes or attribute values (never HTML).

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** h("a", {href: "/x", class: "btn"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(parent, ...children) {
  parent.replaceChildren();
  return build(parent, {}, children);
}

/** A panel with a heading; its body starts as a skeleton of the given height, so the layout does not jump. */
export function panel(title, { id, height = 120, actions } = {}) {
  const body = h("div", { class: "panel-body" }, h("div", { class: "skeleton", "aria-hidden": "true", dataset: { h: String(height) } }));
  body.firstChild.style.height = `${height}px`;
  const section = h(
    "section",
    { class: "panel", id, "aria-labelledby": id ? `${id}-title` : undefined, "aria-busy": "true" },
    h("div", { class: "panel-head" }, h("h2", { id: id ? `${id}-title` : undefined }, title), actions),
    body,
  );
  return { section, body, fill: (...children) => { section.removeAttribute("aria-busy"); replace(body, ...children); } };
}

export function message(kind, ...children) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}
