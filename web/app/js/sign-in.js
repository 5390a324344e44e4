// The two ways in (log in, register): send the form's mutation, refresh the viewer, then go
// to the page the visitor came from (?next=) or their account.
import { graphql, explain } from "./api.js";
import { statusLine } from "./dom.js";
import { busy } from "./forms.js";
import { refreshViewer } from "./session.js";
import { navigate } from "./main.js";

/** Only a path of this site: never an open redirect to another origin. */
export function safeNext(next) {
  // "//host" and "/\\host" are other origins to a browser.
  return next && /^\/(?![\/\\])/.test(next) ? next : null;
}

/** On submit, sends `mutation` with `variables(form)`; an error, told as `doing` ("Logging in"), goes in `status`. */
export function submitSignIn(form, status, query, mutation, variables, doing) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      status.replaceChildren();
      try {
        await graphql(mutation, variables(form));
        await refreshViewer();
        navigate(safeNext(query.get("next")) || "/account");
      } catch (error) {
        status.append(statusLine(explain(error, doing), "error"));
      }
    });
  });
}
