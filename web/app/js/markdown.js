// The assistant answers in markdown: rendered by marked, then sanitized by DOMPurify, so
// nothing in an answer can run script or load from elsewhere.
import { marked } from "/static/vendor/marked.esm.js";
import DOMPurify from "/static/vendor/purify.es.js";

marked.setOptions({ gfm: true, breaks: false });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  // Links to other sites open in a new tab and pass no referrer or opener.
  if (node.tagName === "A" && node.getAttribute("href") && !node.getAttribute("href").startsWith("/")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG") node.remove(); // no remote images (and no tracking pixels)
});

export function renderMarkdown(element, text) {
  element.innerHTML = DOMPurify.sanitize(marked.parse(String(text || "")), { USE_PROFILES: { html: true } });
}
