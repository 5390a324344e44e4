// Code systems as the API names them, and how the app links to a code.
import { h } from "./dom.js";

export const SYSTEMS = [
  { id: "ICD10CM", label: "ICD-10-CM", what: "diagnoses" },
  { id: "ICD10PCS", label: "ICD-10-PCS", what: "inpatient procedures" },
  { id: "HCPCS", label: "HCPCS Level II", what: "supplies, drugs, services" },
  { id: "CPT", label: "CPT", what: "procedures (numbers only without a licence)" },
  { id: "MODIFIER", label: "Modifiers", what: "HCPCS and CPT modifiers" },
];
const LABELS = Object.fromEntries(SYSTEMS.map((system) => [system.id, system.label]));
LABELS.ICD9CM = "ICD-9-CM";

export function systemLabel(system) {
  return LABELS[system] || system;
}

export function codeUrl(system, code) {
  return `/code/${encodeURIComponent(system)}/${encodeURIComponent(code)}`;
}

export function codeLink(summary, { withTitle = false } = {}) {
  if (summary.system === "ICD9CM") {
    return h("span", {}, h("span", { class: "code" }, summary.code), withTitle && summary.title ? ` ${summary.title}` : "");
  }
  return h("span", {}, h("a", { href: codeUrl(summary.system, summary.code), class: "code" }, summary.code),
    withTitle && summary.title ? ` ${summary.title}` : "");
}

/** The system a code printed on a claim most likely belongs to (claims name no system). */
export function guessSystem(code) {
  const plain = String(code).trim().toUpperCase();
  if (/^\d{4}[0-9A-Z]$/.test(plain)) return "CPT";
  if (/^[A-V]\d{4}$/.test(plain)) return "HCPCS";
  if (/^[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$/.test(plain)) return "ICD10CM";
  if (/^[0-9A-HJ-NP-Z]{7}$/.test(plain)) return "ICD10PCS";
  return null;
}

/** Codes in running text ("congenital cardiospasm (Q39.5)") become links to their pages. */
export function linkifyCodes(text, system = "ICD10CM") {
  const fragment = document.createDocumentFragment();
  const pattern = system === "ICD10CM" ? /\b([A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?/g : null;
  if (!pattern) { fragment.append(text); return fragment; }
  let last = 0;
  for (const match of String(text).matchAll(pattern)) {
    fragment.append(text.slice(last, match.index));
    fragment.append(h("a", { href: codeUrl(system, match[1]) }, match[0]));
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}
