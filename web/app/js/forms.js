// Small helpers for the app's forms: labelled fields and a busy submit.
import { h } from "./dom.js";

let fieldCount = 0;

/** A labelled input (or select/textarea when `control` is given). */
export function field(label, attributes = {}, { hint, control } = {}) {
  const id = attributes.id || `field-${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : null;
  const input = control || h(attributes.type === "textarea" ? "textarea" : "input",
    { ...attributes, type: attributes.type === "textarea" ? undefined : attributes.type || "text" });
  input.id = id;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), hint ? h("span", { class: "hint", id: hintId }, hint) : null, input);
}

/** Runs `action` with the form's submit button disabled; its error goes in `status`. */
export async function busy(form, action) {
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  try {
    return await action();
  } finally {
    if (button) button.disabled = false;
  }
}
