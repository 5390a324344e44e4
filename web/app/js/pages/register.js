import { h, setTitle } from "../dom.js";
import { field } from "../forms.js";
import { submitSignIn } from "../sign-in.js";
import { FREE_EXTRA_VIEWS } from "../meter.js";

const REGISTER_MUTATION = `mutation Register($input: RegisterInput!) {
  register(input: $input) { account { id name plan role } }
}`;

export function render(main, params, query) {
  setTitle("Register");
  const status = h("div", { "aria-live": "polite" });
  const role = h("select", { name: "role" },
    h("option", { value: "MEMBER" }, "Coder, biller or auditor"),
    h("option", { value: "EMPLOYER" }, "Employer (post jobs)"));
  const form = h("form", { class: "panel form-narrow" },
    field("Name", { name: "name", autocomplete: "name", required: true }),
    field("Email", { type: "email", name: "email", autocomplete: "email", required: true }),
    field("Password", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "8" },
      { hint: "A long passphrase is best." }),
    field("I am", {}, { control: role }),
    status,
    h("button", { type: "submit" }, "Create a free account"),
    h("p", { class: "small" }, "Already registered? ", h("a", { href: "/login" }, "Log in"), "."));
  submitSignIn(form, status, query, REGISTER_MUTATION, (form) => ({ input: {
    name: form.elements.namedItem("name").value.trim(), email: form.elements.namedItem("email").value.trim(), password: form.elements.namedItem("password").value, role: form.elements.namedItem("role").value,
  } }), "Registering");
  main.append(h("h1", {}, "Create a free account"),
    h("p", {}, `A free account opens ${FREE_EXTRA_VIEWS} more full code pages, keeps your assistant conversations and lets you apply to jobs.`),
    form);
  form.querySelector("input").focus();
}
