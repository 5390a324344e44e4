import { h, setTitle } from "../dom.js";
import { field } from "../forms.js";
import { submitSignIn } from "../sign-in.js";

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
  submitSignIn(form, status, query, LOGIN_MUTATION, (form) => ({
    email: form.elements.namedItem("email").value.trim(), password: form.elements.namedItem("password").value,
  }), "Logging in");
  main.append(h("h1", {}, "Log in"), form);
  form.elements.namedItem("email").focus();
}
