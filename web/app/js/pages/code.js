// A code's page: the official descriptor always; then, while the meter allows, the
// hierarchy with its children, the notes, lay terms, NCCI PTP edits (paged), MUEs and
// crosswalks, each saying which edition of which file it comes from.
import { graphql, explain } from "../api.js";
import { h, clear, setTitle, statusLine, formatDate } from "../dom.js";
import { systemLabel, codeUrl, codeLink, linkifyCodes, SYSTEMS } from "../codes.js";
import { meterBanner, lockedSection } from "../meter.js";
import { refreshViewer } from "../session.js";
import { rememberCode } from "./search.js";

const PTP_PAGE = 25;

const CODE_QUERY = `query CodePage($system: CodeSystem!, $code: String!, $ptpFirst: Int) {
  code(system: $system, code: $code) {
    system code title shortTitle billable descriptorNote
    edition { name effectiveFrom source }
    access { granted remaining limit reason }
    layTerms
    notes { inclusionTerms includes excludes1 excludes2 codeFirst useAdditionalCode codeAlso
            seventhCharacters { character meaning } }
    parent { system code title billable }
    children { system code title billable }
    ptpEdits(first: $ptpFirst) { column1 column2 modifierIndicator effectiveFrom effectiveFromExact deletedOn rationale setting source }
    mue { setting maxUnits adjudicationIndicator rationale source }
    crosswalks { kind target { system code title } approximate targetCode noMap source }
  }
}`;

// The ancestors above the parent, by the code's own structure (ICD-10-CM "K22.0" sits
// under "K22"); their titles come from code search, which is not metered.
const ANCESTOR_QUERY = (codes) => `query Ancestors {
  ${codes.map((code, i) => `a${i}: searchCodes(query: ${JSON.stringify(code)}, systems: [ICD10CM], first: 1) { edges { node { system code title billable } } }`).join("\n  ")}
}`;

export async function render(main, { system, code }) {
  const known = SYSTEMS.some((s) => s.id === system);
  setTitle(`${code} ${systemLabel(system)}`);
  if (!known) {
    main.append(h("h1", {}, "Unknown code system"), statusLine(`“${system}” is not a code system. Use one of ${SYSTEMS.map((s) => s.id).join(", ")}.`, "error"));
    return;
  }
  const status = statusLine(`Loading ${code}…`);
  main.append(status);
  let ptpFirst = PTP_PAGE;
  let page;
  try {
    page = (await graphql(CODE_QUERY, { system, code, ptpFirst: ptpFirst + 1 })).code;
  } catch (error) {
    clear(main).append(h("h1", {}, `${systemLabel(system)} ${code}`), statusLine(explain(error, "This code page"), "error"));
    return;
  }
  const current = await refreshViewer();
  const plan = current?.meter?.plan || (current?.account ? current.account.plan : "GUEST");
  clear(main);
  if (!page) {
    main.append(h("h1", {}, `${systemLabel(system)} ${code}`),
      statusLine(`There is no ${systemLabel(system)} code “${code}” in the loaded editions.`, "warn"),
      h("p", {}, h("a", { href: `/?q=${encodeURIComponent(code)}` }, `Search for “${code}”`)));
    return;
  }
  if (page.code !== code) history.replaceState(history.state, "", codeUrl(page.system, page.code));
  setTitle(`${page.code} ${page.title}`);
  rememberCode(page);

  const crumb = h("ol", {}, h("li", {}, h("a", { href: `/?systems=${page.system}` }, systemLabel(page.system))));
  const breadcrumb = h("nav", { class: "breadcrumb", "aria-label": "Hierarchy" }, crumb);
  main.append(breadcrumb);
  const banner = meterBanner(page.access, plan);
  if (banner) main.append(banner);
  main.append(
    h("section", { class: "panel", "aria-labelledby": "descriptor-heading" },
      h("div", { class: "code-head" },
        h("h1", { id: "descriptor-heading", class: "code-id" }, page.code),
        h("span", { class: "badge" }, systemLabel(page.system)),
        h("span", { class: page.billable ? "badge billable" : "badge header-code" },
          page.billable ? "Billable" : "Not billable (header)"),
        copyButton(page.code)),
      h("p", { class: "descriptor" }, page.title || h("span", { class: "muted" }, "No descriptor")),
      page.shortTitle && page.shortTitle !== page.title ? h("p", { class: "muted small" }, `Short descriptor: ${page.shortTitle}`) : null,
      page.descriptorNote ? statusLine(page.descriptorNote, "info") : null,
      h("p", { class: "source" }, `Edition: ${page.edition.name}, effective ${formatDate(page.edition.effectiveFrom)}. File: ${page.edition.source}`)));

  const sections = h("div", { class: "sections" });
  main.append(sections);
  const granted = page.access.granted;
  const editionLine = h("p", { class: "source" }, `Source: ${page.edition.name}, ${page.edition.source}`);
  const section = (id, title, body, { wide = false } = {}) => {
    sections.append(h("section", { class: `panel${wide ? " wide" : ""}`, "aria-labelledby": `${id}-heading`, id },
      h("h2", { id: `${id}-heading` }, title), granted ? body() : lockedSection(page.access, plan)));
  };

  section("hierarchy", "Hierarchy", () => [
    page.parent ? h("p", {}, "Parent: ", codeLink(page.parent, { withTitle: true })) : h("p", { class: "muted" }, "Top of its category."),
    h("h3", {}, page.children?.length ? `Children (${page.children.length})` : "Children"),
    page.children?.length
      ? h("ul", { class: "children" }, page.children.map((child) => h("li", {}, codeLink(child, { withTitle: true }),
        " ", h("span", { class: child.billable ? "badge billable" : "badge header-code" }, child.billable ? "billable" : "header"))))
      : h("p", { class: "muted" }, "None: this is the most specific code."),
    editionLine.cloneNode(true)]);
  section("notes", "Notes", () => notesBody(page));
  section("lay-terms", "Lay terms", () => [
    page.layTerms?.length ? h("ul", { class: "plain" }, page.layTerms.map((term) => h("li", {}, term)))
      : h("p", { class: "muted" }, "No lay terms for this code."),
    h("p", { class: "source" }, page.system === "ICD10CM"
      ? "Source: the ICD-10-CM Alphabetic Index terms that lead to this code." : editionLine.textContent)]);
  section("mue", "Medically unlikely edits (MUE)", () => mueBody(page.mue));
  section("ptp", "NCCI procedure-to-procedure edits", () => ptpBody(page, ptpFirst, async (next) => {
    ptpFirst = next;
    const more = (await graphql(CODE_QUERY, { system: page.system, code: page.code, ptpFirst: next + 1 })).code;
    page.ptpEdits = more.ptpEdits;
    return page;
  }), { wide: true });
  section("crosswalks", "Crosswalks (GEMs)", () => crosswalkBody(page.crosswalks), { wide: true });

  if (granted && page.parent) {
    crumb.append(...(await ancestors(page)).map((summary) => h("li", {}, h("a", { href: codeUrl(summary.system, summary.code) }, summary.code),
      h("span", { class: "muted small" }, ` ${summary.title}`))));
  }
  crumb.append(h("li", { "aria-current": "page" }, page.code));
}

function copyButton(code) {
  const button = h("button", { type: "button", class: "secondary small" }, "Copy code");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select the code to copy it";
    }
    setTimeout(() => { button.textContent = "Copy code"; }, 2000);
  });
  return button;
}

async function ancestors(page) {
  const chain = [];
  if (page.system === "ICD10CM") {
    const plain = page.parent.code.replace(".", "");
    for (let length = 3; length < plain.length; length++) {
      const prefix = plain.slice(0, length);
      chain.push(length > 3 ? `${prefix.slice(0, 3)}.${prefix.slice(3)}` : prefix);
    }
  }
  let found = [];
  if (chain.length) {
    try {
      const data = await graphql(ANCESTOR_QUERY(chain));
      found = chain.map((code, i) => data[`a${i}`].edges[0]?.node).filter((node, i) => node && node.code === chain[i]);
    } catch { /* the breadcrumb then starts at the parent */ }
  }
  return [...found, page.parent];
}

function notesBody(page) {
  const notes = page.notes;
  const groups = [
    ["Inclusion terms", notes?.inclusionTerms], ["Includes", notes?.includes], ["Excludes1", notes?.excludes1],
    ["Excludes2", notes?.excludes2], ["Code first", notes?.codeFirst], ["Use additional code", notes?.useAdditionalCode],
    ["Code also", notes?.codeAlso],
  ].filter(([, items]) => items && items.length);
  const body = groups.map(([title, items]) => [h("h3", {}, title),
    h("ul", { class: "plain" }, items.map((item) => h("li", {}, linkifyCodes(item, page.system))))]);
  if (notes?.seventhCharacters?.length) {
    body.push(h("h3", {}, "7th characters"), h("ul", { class: "plain" },
      notes.seventhCharacters.map((s) => h("li", {}, h("code", {}, s.character), ` ${s.meaning}`))));
  }
  if (!body.length) body.push(h("p", { class: "muted" }, "No notes for this code."));
  body.push(h("p", { class: "source" }, `Source: ${page.edition.name}, ${page.edition.source}`));
  return body;
}

function sourcesLine(items) {
  const sources = [...new Set((items || []).map((item) => item.source))];
  return sources.length ? h("p", { class: "source" }, `Source: ${sources.join("; ")}`) : null;
}

function mueBody(mues) {
  if (!mues?.length) return [h("p", { class: "muted" }, "No MUE for this code in the loaded MUE tables.")];
  return [h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "MUE table" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Max units"),
      h("th", { scope: "col" }, "Adjudication"), h("th", { scope: "col" }, "Rationale"))),
    h("tbody", {}, mues.map((m) => h("tr", {}, h("td", {}, m.setting), h("td", {}, String(m.maxUnits)),
      h("td", {}, m.adjudicationIndicator), h("td", {}, m.rationale || "")))))), sourcesLine(mues)];
}

const INDICATOR = { 0: "0: never separable", 1: "1: separable with a modifier", 9: "9: not applicable" };

function ptpBody(page, first, loadMore) {
  const wrap = h("div", {});
  const draw = () => {
    clear(wrap);
    const edits = page.ptpEdits || [];
    const shown = edits.slice(0, first);
    if (!shown.length) {
      wrap.append(h("p", { class: "muted" }, "No active NCCI PTP edit names this code in the loaded tables."));
      return;
    }
    wrap.append(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "PTP edits table" }, h("table", {},
      h("caption", { class: "muted small" }, `Showing ${shown.length}${edits.length > first ? "" : " (all)"} edits where ${page.code} is column 1 or column 2`),
      h("thead", {}, h("tr", {}, ["Column 1", "Column 2", "Modifier indicator", "Setting", "Effective", "Rationale"]
        .map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, shown.map((edit) => h("tr", {},
        h("td", {}, ptpCode(edit.column1, page)), h("td", {}, ptpCode(edit.column2, page)),
        h("td", {}, INDICATOR[edit.modifierIndicator] || String(edit.modifierIndicator)), h("td", {}, edit.setting),
        h("td", {}, formatDate(edit.effectiveFrom), edit.effectiveFromExact ? "" : " (release)", edit.deletedOn ? `, deleted ${formatDate(edit.deletedOn)}` : ""),
        h("td", {}, edit.rationale || "")))))));
    if (edits.length > first) {
      const button = h("button", { type: "button", class: "secondary" }, `Show ${PTP_PAGE} more edits`);
      button.addEventListener("click", async () => {
        button.disabled = true;
        button.textContent = "Loading…";
        try {
          page = await loadMore(first + PTP_PAGE);
          first += PTP_PAGE;
        } catch (error) {
          wrap.append(statusLine(explain(error, "Loading more edits"), "error"));
        }
        draw();
      });
      wrap.append(h("div", { class: "pager" }, button));
    }
    const sources = sourcesLine(shown);
    if (sources) wrap.append(sources);
  };
  draw();
  return [wrap];
}

function ptpCode(code, page) {
  if (code === page.code) return h("strong", {}, code);
  const system = /^[A-V]\d{4}$/.test(code) ? "HCPCS" : "CPT";
  return h("a", { href: codeUrl(system, code) }, code);
}

const CROSSWALK_KIND = { GEM_I10_TO_I9: "ICD-10-CM → ICD-9-CM (forward GEM)", GEM_I9_TO_I10: "ICD-9-CM → ICD-10-CM (backward GEM)" };

function crosswalkBody(crosswalks) {
  if (!crosswalks?.length) return [h("p", { class: "muted" }, "No crosswalk for this code.")];
  // ICD-9-CM descriptors are not loaded: then the table has no descriptor column.
  const titled = (c) => !c.noMap && c.target.title && c.target.title !== `ICD-9-CM ${c.target.code}`;
  const withTitles = crosswalks.some(titled);
  return [h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Crosswalks table" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Mapping", "Code", withTitles ? "Descriptor" : null, "Match"].filter(Boolean)
      .map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, crosswalks.map((c) => h("tr", {},
      h("td", {}, CROSSWALK_KIND[c.kind] || c.kind),
      h("td", {}, c.noMap ? "NoDx (no map)" : codeLink(c.target)),
      withTitles ? h("td", {}, titled(c) ? c.target.title : "") : null,
      h("td", {}, c.approximate ? "approximate" : "exact")))))), sourcesLine(crosswalks)];
}
