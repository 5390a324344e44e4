// Search as you type: debounced queries, the newest answer always wins, matches
// highlighted, filters by system and billable, and the keyboard: `/` focuses the box,
// arrows move through the results, Enter opens one (the ARIA combobox pattern, so focus
// stays in the box and typing goes on).
import { graphql, explain } from "../api.js";
import { h, clear, highlighted, debounce, setTitle } from "../dom.js";
import { SYSTEMS, systemLabel, codeUrl } from "../codes.js";
import { navigate } from "../main.js";

const SEARCH_QUERY = `query Search($query: String!, $systems: [CodeSystem!], $billableOnly: Boolean, $first: Int, $after: String) {
  searchCodes(query: $query, systems: $systems, billableOnly: $billableOnly, first: $first, after: $after) {
    totalCount
    edges { cursor highlight node { system code title billable } }
    pageInfo { hasNextPage endCursor }
    facets { system count }
  }
}`;
const PAGE_SIZE = 20;
const DEBOUNCE_MS = 120;
const CODE_LIKE = /^[A-Za-z0-9]{1,3}(\.[A-Za-z0-9]*)?[*%]?$|^[A-Za-z0-9]{3,7}$/;
// Code patterns as coders write them: "J90*", "K22.%", "K22.-" mean "K22 and below",
// which is what a code prefix finds.
const CODE_PATTERN = /^([A-Za-z0-9]{1,7}(?:\.[A-Za-z0-9]{0,4})?)(?:\.?[-*%?]+)$/;

export function searchText(text) {
  const pattern = CODE_PATTERN.exec(text);
  return pattern ? pattern[1].replace(/\.$/, "") : text;
}

export function render(main, params, query) {
  setTitle("Search codes");
  const state = {
    text: query.get("q") || "",
    systems: new Set((query.get("systems") || "").split(",").filter(Boolean)),
    billableOnly: query.get("billable") === "1",
    edges: [], active: -1, sequence: 0, pageInfo: null, controller: null,
  };

  const input = h("input", {
    type: "search", id: "search-input", role: "combobox", "aria-expanded": "false", "aria-autocomplete": "list",
    "aria-controls": "search-results", "aria-describedby": "search-keys", autocomplete: "off", spellcheck: "false",
    placeholder: "Code, words or lay terms: K22.0, achalasia, heartburn, J90*, 0DB6", value: state.text,
  });
  const label = h("label", { for: "search-input" }, "Search ICD-10-CM, ICD-10-PCS, HCPCS, CPT and modifiers");
  const meta = h("p", { class: "result-meta", role: "status", "aria-live": "polite" });
  const list = h("ul", { id: "search-results", class: "results", role: "listbox", "aria-label": "Matching codes" });
  const more = h("div", { class: "pager" });
  const start = startHints((text) => { input.value = text; search(); input.focus(); });
  const facetCounts = {};
  const systemBoxes = SYSTEMS.map((system) => {
    const box = h("input", { type: "checkbox", value: system.id, checked: state.systems.has(system.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.systems.add(system.id); else state.systems.delete(system.id);
      search();
    });
    facetCounts[system.id] = h("span", { class: "count", "aria-hidden": "true" });
    return h("label", { class: "check" }, box, system.label, facetCounts[system.id]);
  });
  const billable = h("input", { type: "checkbox", id: "billable-only", checked: state.billableOnly });
  billable.addEventListener("change", () => { state.billableOnly = billable.checked; search(); });

  main.append(
    h("h1", {}, "Find a code"),
    h("div", { class: "search-box" }, label, input),
    h("p", { class: "keys", id: "search-keys" }, "Results appear as you type. ",
      h("kbd", {}, "/"), " focuses the search, ", h("kbd", {}, "↑"), " ", h("kbd", {}, "↓"), " move, ",
      h("kbd", {}, "Enter"), " opens the code. Code patterns work too: ", h("code", {}, "K22"), ", ", h("code", {}, "J90*"), "."),
    h("div", { class: "search-layout" },
      h("aside", { class: "filters" },
        h("fieldset", {}, h("legend", {}, "Code systems"), systemBoxes),
        h("fieldset", {}, h("legend", {}, "Codes"), h("label", { class: "check" }, billable, "Billable codes only"))),
      h("section", { "aria-label": "Results" }, meta, list, more, start)));

  function updateUrl() {
    const params = new URLSearchParams();
    if (state.text.trim()) params.set("q", state.text.trim());
    if (state.systems.size) params.set("systems", [...state.systems].join(","));
    if (state.billableOnly) params.set("billable", "1");
    const url = `${location.pathname}${params.size ? `?${params}` : ""}`;
    history.replaceState(history.state, "", url);
  }

  async function search({ append = false } = {}) {
    state.text = input.value;
    updateUrl();
    const text = state.text.trim();
    const sequence = ++state.sequence;
    if (state.controller) state.controller.abort();
    start.hidden = Boolean(text);
    if (!text) {
      state.edges = []; state.pageInfo = null; setActive(-1);
      clear(list); clear(more); meta.textContent = "";
      input.setAttribute("aria-expanded", "false");
      for (const count of Object.values(facetCounts)) count.textContent = "";
      return;
    }
    const controller = state.controller = new AbortController();
    const variables = {
      query: searchText(text), systems: state.systems.size ? [...state.systems] : null,
      billableOnly: state.billableOnly, first: PAGE_SIZE,
      after: append && state.pageInfo ? state.pageInfo.endCursor : null,
    };
    let data;
    try {
      data = await graphql(SEARCH_QUERY, variables, { signal: controller.signal });
    } catch (error) {
      if (error.name === "AbortError" || sequence !== state.sequence) return;
      clear(list); clear(more);
      meta.textContent = explain(error, "Search");
      return;
    }
    if (sequence !== state.sequence) return; // an older answer arriving late: ignore it
    const result = data.searchCodes;
    state.edges = append ? state.edges.concat(result.edges) : result.edges;
    state.pageInfo = result.pageInfo;
    for (const system of SYSTEMS) {
      const facet = result.facets.find((f) => f.system === system.id);
      facetCounts[system.id].textContent = facet ? facet.count.toLocaleString("en-US") : "";
    }
    meta.textContent = result.totalCount
      ? `${result.totalCount.toLocaleString("en-US")} code${result.totalCount === 1 ? "" : "s"} match “${text}”`
      : `No code matches “${text}”. Try fewer words, a code prefix, or another system.`;
    drawResults(text, append ? state.edges.length - result.edges.length : 0);
    if (!append) setActive(state.edges.length ? 0 : -1);
  }

  function drawResults(text, from) {
    if (from === 0) clear(list);
    const typed = searchText(text);
    const codeQuery = CODE_LIKE.test(typed) ? typed.replace(/\./g, "").toUpperCase() : null;
    state.edges.slice(from).forEach((edge, offset) => {
      const index = from + offset;
      const node = edge.node;
      list.append(h("li", {
        id: `result-${index}`, class: "result", role: "option", "aria-selected": "false",
        dataset: { url: codeUrl(node.system, node.code) },
        onclick: () => navigate(codeUrl(node.system, node.code)),
        onmousemove: () => { if (state.active !== index) setActive(index, false); },
      },
      h("span", { class: "code" }, codeHighlight(node.code, codeQuery)),
      h("span", { class: "title" }, edge.highlight ? highlighted(edge.highlight) : node.title),
      h("span", { class: "badges" },
        h("span", { class: "badge" }, systemLabel(node.system)),
        h("span", { class: node.billable ? "badge billable" : "badge header-code" }, node.billable ? "billable" : "header"))));
    });
    input.setAttribute("aria-expanded", state.edges.length ? "true" : "false");
    clear(more);
    if (state.pageInfo?.hasNextPage) {
      more.append(h("button", { type: "button", class: "secondary", onclick: () => search({ append: true }) }, "Show more results"));
    }
  }

  function setActive(index, scroll = true) {
    const previous = list.querySelector('[aria-selected="true"]');
    if (previous) previous.setAttribute("aria-selected", "false");
    state.active = index;
    const option = index >= 0 ? document.getElementById(`result-${index}`) : null;
    if (option) {
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      if (scroll) option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  const searchSoon = debounce(() => search(), DEBOUNCE_MS);
  input.addEventListener("input", searchSoon);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && state.edges.length) {
      event.preventDefault();
      setActive(Math.min(state.active + 1, state.edges.length - 1));
    } else if (event.key === "ArrowUp" && state.edges.length) {
      event.preventDefault();
      setActive(Math.max(state.active - 1, 0));
    } else if (event.key === "Enter") {
      event.preventDefault();
      const option = document.getElementById(`result-${Math.max(state.active, 0)}`);
      if (option) navigate(option.dataset.url);
      else search();
    } else if (event.key === "Escape") {
      input.value = ""; search();
    }
  });

  function slashFocuses(event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    input.focus();
    input.select();
  }
  document.addEventListener("keydown", slashFocuses);

  input.focus();
  if (state.text) search();
  return () => document.removeEventListener("keydown", slashFocuses);
}

const EXAMPLES = ["achalasia", "heartburn", "K22", "J90*", "0DB6", "fracture of radius", "LT"];

/** What an empty search shows: examples, and the codes this browser opened lately. */
function startHints(run) {
  const recent = recentCodes();
  return h("div", { class: "start" },
    h("p", {}, "Try: ", EXAMPLES.map((example, i) => [i ? " · " : "",
      h("button", { type: "button", class: "link", onclick: () => run(example) }, example)])),
    recent.length ? [h("h2", {}, "Recently viewed"), h("ul", { class: "children" }, recent.map((item) =>
      h("li", {}, h("a", { href: codeUrl(item.system, item.code), class: "code" }, item.code), ` ${item.title} `,
        h("span", { class: "badge" }, systemLabel(item.system)))))] : null);
}

const RECENT_KEY = "medcode:recent-codes";

export function recentCodes() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]").slice(0, 10);
  } catch {
    return [];
  }
}

export function rememberCode(page) {
  const list = recentCodes().filter((item) => !(item.system === page.system && item.code === page.code));
  list.unshift({ system: page.system, code: page.code, title: page.title });
  localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 10)));
}

function codeHighlight(code, codeQuery) {
  if (!codeQuery) return code;
  // Mark the typed prefix of the code, dots skipped ("k220" marks "K22.0").
  let matched = 0, end = 0;
  for (; end < code.length && matched < codeQuery.length; end++) {
    if (code[end] === ".") continue;
    if (code[end].toUpperCase() !== codeQuery[matched]) return code;
    matched++;
  }
  if (matched < codeQuery.length) return code;
  return h("span", {}, h("mark", {}, code.slice(0, end)), code.slice(end));
}
