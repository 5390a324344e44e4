// Building the page without ever parsing user-supplied text as HTML: every string goes in
// as a text node or an attribute value, so whatever a user (or a server) sends is shown,
// never run.

/** h("a", {href: "/x", class: "btn"}, "text", child, [more]) -> an element. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

/** The codes service's highlight: the title HTML-escaped, matched words in <mark>. Read as
 * text and marks only, so nothing else in it could ever become markup. */
export function highlighted(highlight) {
  const fragment = document.createDocumentFragment();
  let marked = false;
  for (const part of String(highlight).split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") { marked = true; continue; }
    if (part === "</mark>") { marked = false; continue; }
    if (!part) continue;
    const text = part.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity]);
    fragment.append(marked ? h("mark", {}, text) : document.createTextNode(text));
  }
  return fragment;
}

/** Debounced function: runs `wait` ms after the last call. */
export function debounce(fn, wait) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value.length === 10 ? `${value}T00:00:00` : value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleDateString("en-US", { year: "numeric", month: "short", day: "numeric" });
}

/** A status line for screen readers and everyone (role=status is announced politely). */
export function statusLine(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function setTitle(text) {
  document.title = text ? `${text} · MedCode` : "MedCode: code search for medical coders";
}
