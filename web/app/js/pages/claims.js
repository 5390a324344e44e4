// The claim checker: lines (code, modifiers, units), a date of service and a setting;
// the findings say which lines and codes they concern and which file decided them.
import { graphql, explain } from "../api.js";
import { h, clear, setTitle, statusLine, formatDate } from "../dom.js";
import { codeUrl, guessSystem } from "../codes.js";

const CHECK_QUERY = `query CheckClaim($input: ClaimInput!) {
  checkClaim(input: $input) {
    clean dateOfService setting editions
    findings { kind codes message modifierAllowed source lines }
  }
}`;
const SETTINGS = [["practitioner", "Practitioner"], ["outpatient_hospital", "Outpatient hospital"], ["dme", "DME supplier"]];
const KIND_TITLE = {
  PTP: "NCCI procedure-to-procedure edit", PTP_MODIFIER: "PTP edit bypassed by a modifier",
  MUE: "Medically unlikely edit", UNKNOWN_CODE: "Unknown code", DELETED_CODE: "Deleted code",
};
let lineNumber = 0;

export function render(main) {
  setTitle("Claim checker");
  const body = h("tbody", {});
  const dateInput = h("input", { type: "date", id: "claim-date", value: new Date().toISOString().slice(0, 10) });
  const setting = h("select", { id: "claim-setting" }, SETTINGS.map(([value, label]) => h("option", { value }, label)));
  const results = h("section", { id: "claim-results", "aria-live": "polite", "aria-label": "Findings" });

  const addLine = (code = "", modifiers = "", units = "1") => {
    const n = ++lineNumber;
    const row = h("tr", {},
      h("td", { "data-label": "Code" }, h("input", { type: "text", name: "code", value: code, "aria-label": `Line code`, placeholder: "e.g. 93000", autocomplete: "off" })),
      h("td", { "data-label": "Modifiers" }, h("input", { type: "text", name: "modifiers", value: modifiers, "aria-label": "Line modifiers", placeholder: "e.g. 59, LT" })),
      h("td", { "data-label": "Units" }, h("input", { type: "number", name: "units", value: units, min: "1", "aria-label": "Line units" })),
      h("td", {}, h("button", { type: "button", class: "link", "aria-label": "Remove this line", onclick: () => { row.remove(); renumber(); } }, "Remove")));
    row.dataset.line = String(n);
    body.append(row);
    renumber();
    return row;
  };
  const renumber = () => {
    [...body.rows].forEach((row, index) => {
      for (const input of row.querySelectorAll("input")) {
        input.setAttribute("aria-label", `Line ${index + 1} ${input.name}`);
      }
    });
  };

  const form = h("form", { class: "panel", "aria-labelledby": "claim-heading" },
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "claim-date" }, "Date of service"), dateInput),
      h("div", { class: "field" }, h("label", { for: "claim-setting" }, "Setting"), setting)),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Claim lines" }, h("table", { class: "claim-lines" },
      h("caption", { class: "muted small" }, "Claim lines: one code each, modifiers separated by commas or spaces"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Modifiers"),
        h("th", { scope: "col" }, "Units"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Remove a line")))),
      body)),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", onclick: () => addLine().querySelector("input").focus() }, "Add a line"),
      h("button", { type: "submit", id: "check-claim" }, "Check the claim")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = [...body.rows].map((row) => ({
      code: row.querySelector('[name="code"]').value.trim(),
      modifiers: row.querySelector('[name="modifiers"]').value.split(/[\s,]+/).map((m) => m.trim().toUpperCase()).filter(Boolean),
      units: Number.parseInt(row.querySelector('[name="units"]').value || "1", 10),
    })).filter((line) => line.code);
    clear(results);
    if (!lines.length) {
      results.append(statusLine("Enter at least one code.", "error"));
      return;
    }
    const bad = lines.find((line) => !Number.isInteger(line.units) || line.units < 1);
    if (bad) {
      results.append(statusLine(`Units must be a whole number of at least 1 (line with ${bad.code}).`, "error"));
      return;
    }
    results.append(statusLine("Checking…"));
    try {
      const input = { lines, setting: setting.value, dateOfService: dateInput.value || null };
      const check = (await graphql(CHECK_QUERY, { input })).checkClaim;
      drawFindings(results, check, lines);
    } catch (error) {
      clear(results).append(statusLine(explain(error, "The claim check"), "error"));
    }
  });

  main.append(h("h1", { id: "claim-heading" }, "Claim checker"),
    h("p", { class: "muted" }, "NCCI procedure-to-procedure edits and medically unlikely edits (MUEs), as CMS publishes them, for the date of service."),
    form, results);
  addLine("93000"); addLine("93010", "59"); addLine();
}

function drawFindings(results, check, lines) {
  clear(results);
  results.append(h("h2", {}, "Findings"),
    check.clean
      ? statusLine(`Clean: no NCCI PTP or MUE edit stops these ${lines.length} line${lines.length === 1 ? "" : "s"} on ${formatDate(check.dateOfService)} (${check.setting.replace("_", " ")})${check.findings.length ? `; ${check.findings.length} note${check.findings.length === 1 ? "" : "s"} below` : ""}.`, "ok")
      : statusLine(`${check.findings.length} finding${check.findings.length === 1 ? "" : "s"} for ${formatDate(check.dateOfService)} (${check.setting.replace("_", " ")}).`, "warn"));
  const list = h("ul", { class: "job-list" });
  for (const finding of check.findings) {
    list.append(h("li", { class: `panel finding kind-${finding.kind}` },
      h("h3", {}, KIND_TITLE[finding.kind] || finding.kind, " ",
        finding.codes.map((code) => {
          const system = guessSystem(code);
          return [" ", system ? h("a", { href: codeUrl(system, code), class: "code" }, code) : h("span", { class: "code" }, code)];
        })),
      h("p", {}, finding.message),
      finding.lines?.length ? h("p", { class: "small muted" }, `Claim line${finding.lines.length === 1 ? "" : "s"} ${finding.lines.join(", ")}`) : null,
      finding.modifierAllowed === true ? h("p", { class: "small" }, "A modifier can bypass this edit when the services were distinct.")
        : finding.modifierAllowed === false ? h("p", { class: "small" }, "No modifier can bypass this edit.") : null,
      h("p", { class: "source" }, `Source: ${finding.source}`)));
  }
  if (check.findings.length) results.append(list);
  if (check.editions?.length) results.append(h("p", { class: "source" }, `Rule editions used: ${check.editions.join("; ")}`));
}
