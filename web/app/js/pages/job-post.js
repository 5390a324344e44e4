// Employers post a job.
import { graphql, explain, NOT_IMPLEMENTED } from "../api.js";
import { h, clear, setTitle, statusLine } from "../dom.js";
import { field, busy } from "../forms.js";
import { refreshViewer } from "../session.js";
import { navigate } from "../main.js";
import { POST_JOB } from "../jobs-api.js";

export async function render(main) {
  setTitle("Post a job");
  const current = await refreshViewer();
  main.append(h("h1", {}, "Post a job"));
  if (current?.account?.role !== "EMPLOYER" && current?.account?.role !== "ADMIN") {
    main.append(statusLine("Posting jobs needs an employer account.", "info"),
      h("p", {}, h("a", { href: "/register", class: "button" }, "Register as an employer"), " ",
        h("a", { href: "/login?next=/jobs/new", class: "button secondary" }, "Log in")));
    return;
  }
  const type = h("select", { name: "employmentType" },
    ["Full-time", "Part-time", "Contract", "Per diem"].map((value) => h("option", { value }, value)));
  const remote = h("input", { type: "checkbox", name: "remote" });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "panel" },
    h("div", { class: "row" },
      field("Job title", { name: "title", required: true }),
      field("Company", { name: "company", required: true, value: current.account.name })),
    h("div", { class: "row" },
      field("Location", { name: "location", required: true, placeholder: "City, state" }),
      field("Employment type", {}, { control: type }),
      h("div", { class: "field" }, h("label", { class: "check" }, remote, "Remote"))),
    h("div", { class: "row" },
      field("Salary from (USD per year)", { name: "salaryMin", type: "number", min: "0", step: "1000" }),
      field("Salary to (USD per year)", { name: "salaryMax", type: "number", min: "0", step: "1000" }),
      field("Open until", { name: "expiresOn", type: "date" })),
    h("div", { class: "row" },
      field("Certifications", { name: "certifications", placeholder: "CPC, CCS, RHIT" }, { hint: "Separated by commas" }),
      field("Specialty", { name: "specialty", placeholder: "e.g. cardiology" })),
    field("Description", { type: "textarea", name: "description", required: true }),
    status, h("button", { type: "submit" }, "Post the job"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      clear(status);
      const value = (name) => form.elements.namedItem(name).value.trim();
      const number = (name) => (value(name) ? Number.parseInt(value(name), 10) : null);
      try {
        const job = (await graphql(POST_JOB, { input: {
          title: value("title"), company: value("company"), location: value("location"), remote: remote.checked,
          employmentType: type.value, salaryMin: number("salaryMin"), salaryMax: number("salaryMax"),
          certifications: value("certifications").split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase()),
          specialty: value("specialty") || null, description: value("description"), expiresOn: value("expiresOn") || null,
        } })).postJob;
        navigate(`/jobs/${encodeURIComponent(job.id)}`);
      } catch (error) {
        status.append(statusLine(explain(error, "Posting jobs"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
      }
    });
  });
  main.append(form);
}
