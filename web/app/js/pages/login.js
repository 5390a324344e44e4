import { graphql, explain } from "../api.js";
import { h, setTitle, statusLine } from "../dom.js";
import { field, busy } from "../forms.js";
import { refreshViewer } from "../session.js";
import { navigate } from "../main.js";

export const LOGIN_MUTATION = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { account { id name plan role } }
}`;

export function render(main, params, query) {
  setTitle("Log in");
  const status = h("div", { "aria-live": "polite" });
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "panel form-narrow" }, email, password, status,
    h("button", { type: "submit" }, "Log in"),
    h("p", { class: "small" }, "No account yet? ", h("a", { href: "/register" }, "Register free"), "."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      status.replaceChildren();
      try {
        await graphql(LOGIN_MUTATION, { email: form.elements.namedItem("email").value.trim(), password: form.elements.namedItem("password").value });
        await refreshViewer();
        navigate(safeNext(query.get("next")) || "/account");
      } catch (error) {
        status.append(statusLine(explain(error, "Logging in"), "error"));
      }
    });
  });
  main.append(h("h1", {}, "Log in"), form);
  form.elements.namedItem("email").focus();
}

/** Only a path of this site: never an open redirect to another origin. */
export function safeNext(next) {
  // "//host" and "/\\host" are other origins to a browser.
  return next && /^\/(?![\/\\])/.test(next) ? next : null;
}
