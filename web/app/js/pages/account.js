import { explain } from "../api.js";
import { h, append, setTitle, statusLine } from "../dom.js";
import { refreshViewer, logout } from "../session.js";
import { navigate } from "../main.js";

export async function render(main) {
  setTitle("Your account");
  const viewer = await refreshViewer();
  const account = viewer?.account;
  if (!account) {
    main.append(h("h1", {}, "Your account"),
      statusLine("You are not logged in.", "info"),
      h("p", {}, h("a", { href: "/login?next=/account", class: "button" }, "Log in"), " ",
        h("a", { href: "/register", class: "button secondary" }, "Register free")));
    if (viewer?.meter) main.append(meterPanel(viewer.meter));
    return;
  }
  const status = h("div", { "aria-live": "polite" });
  append(main, [h("h1", {}, "Your account"),
    h("section", { class: "panel", "aria-labelledby": "profile-heading" },
      h("h2", { id: "profile-heading" }, "Profile"),
      h("dl", {},
        h("dt", {}, "Name"), h("dd", {}, account.name),
        h("dt", {}, "Email"), h("dd", {}, account.email),
        h("dt", {}, "Plan"), h("dd", { id: "account-plan" }, account.plan),
        h("dt", {}, "Role"), h("dd", {}, account.role === "EMPLOYER" ? "Employer" : account.role === "ADMIN" ? "Administrator" : "Member"))),
    meterPanel(viewer.meter),
    account.role === "EMPLOYER" ? h("p", {}, h("a", { href: "/employer" }, "Your job posts and their applications"), " · ", h("a", { href: "/jobs/new" }, "Post a job")) : null,
    status,
    h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await logout();
        navigate("/");
      } catch (error) {
        status.replaceChildren(statusLine(explain(error, "Logging out"), "error"));
      }
    } }, "Log out")]);
}

function meterPanel(meter) {
  const unlimited = meter.limit === null || meter.limit === undefined;
  return h("section", { class: "panel", "aria-labelledby": "meter-heading", id: "meter" },
    h("h2", { id: "meter-heading" }, "Code page views"),
    unlimited
      ? h("p", {}, `Unlimited on the ${meter.plan} plan (${meter.used} viewed this period).`)
      : h("p", {}, `${meter.used} of ${meter.limit} used this period; `, h("strong", {}, `${meter.remaining} remaining`), "."));
}
