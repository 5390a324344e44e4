// The app's shell: a client-side router over the page URLs the gateway serves
// (every one answers index.html), and the header's account links.
import { h, append, clear, setTitle } from "./dom.js";
import { refreshViewer, onViewer, logout } from "./session.js";

const ROUTES = [
  { pattern: /^\/(?:search)?$/, nav: "search", load: () => import("./pages/search.js") },
  { pattern: /^\/code\/([^/]+)\/(.+)$/, nav: "search", load: () => import("./pages/code.js"),
    params: (m) => ({ system: decodeURIComponent(m[1]), code: decodeURIComponent(m[2]) }) },
  { pattern: /^\/claims$/, nav: "claims", load: () => import("./pages/claims.js") },
  { pattern: /^\/assistant(?:\/([^/]+))?$/, nav: "assistant", load: () => import("./pages/assistant.js"),
    params: (m) => ({ conversationId: m[1] ? decodeURIComponent(m[1]) : null }) },
  { pattern: /^\/jobs$/, nav: "jobs", load: () => import("./pages/jobs.js") },
  { pattern: /^\/jobs\/new$/, nav: "jobs", load: () => import("./pages/job-post.js") },
  { pattern: /^\/employer$/, nav: "jobs", load: () => import("./pages/employer.js") },
  { pattern: /^\/jobs\/([^/]+)$/, nav: "jobs", load: () => import("./pages/job.js"),
    params: (m) => ({ id: decodeURIComponent(m[1]) }) },
  { pattern: /^\/login$/, nav: "account", load: () => import("./pages/login.js") },
  { pattern: /^\/register$/, nav: "account", load: () => import("./pages/register.js") },
  { pattern: /^\/account$/, nav: "account", load: () => import("./pages/account.js") },
];

const main = document.getElementById("main");
let cleanup = null;
let renderCount = 0;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", url);
  else history.pushState({}, "", url);
  render();
}

async function render() {
  const number = ++renderCount;
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const route = ROUTES.find((candidate) => candidate.pattern.test(path));
  if (cleanup) { try { cleanup(); } catch { /* the old page is gone anyway */ } cleanup = null; }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (route && link.dataset.nav === route.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!route) {
    setTitle("Page not found");
    clear(main).append(h("h1", {}, "Page not found"),
      h("p", {}, "There is no page at this address. ", h("a", { href: "/" }, "Search codes"), "."));
    return;
  }
  const page = await route.load();
  if (number !== renderCount) return; // another navigation started meanwhile
  clear(main);
  const params = route.params ? route.params(route.pattern.exec(path)) : {};
  cleanup = (await page.render(main, params, new URLSearchParams(location.search))) || null;
  // After a navigation, focus goes to the new content (for screen readers), unless the
  // page put it somewhere itself (the search box).
  if (renderCount > 1 && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

// Same-origin links are followed by the router (no page reload), except GraphiQL and files.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/static/")
      || url.pathname === "/graphiql" || url.pathname === "/graphql") return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
  window.scrollTo(0, 0);
});
window.addEventListener("popstate", render);

// `/` anywhere (outside a text field) goes to the search box; the search page handles it itself.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (document.getElementById("search-input")) return;
  event.preventDefault();
  navigate("/");
});

function renderAccountLinks(viewer) {
  const box = document.getElementById("account-links");
  clear(box);
  const account = viewer?.account;
  if (account) {
    append(box, [
      h("a", { href: "/account" }, account.name),
      h("span", { class: "plan", title: "Your plan" }, account.plan),
      account.role === "EMPLOYER" ? h("a", { href: "/employer" }, "My jobs") : null,
      h("button", {
        type: "button", class: "link", onclick: async () => {
          await logout();
          navigate("/");
        },
      }, "Log out")]);
  } else {
    box.append(h("a", { href: "/login" }, "Log in"), h("a", { href: "/register", class: "button secondary" }, "Register free"));
  }
}

onViewer(renderAccountLinks);
// The viewer first: a new browser gets its guest cookie from this answer, so the page's
// own requests (a metered code page) all count for that one guest.
refreshViewer().finally(render);
