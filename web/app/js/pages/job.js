// One job: its description, an application form for coders, and the applications for the
// employer who posted it (the API shows them to that employer only).
import { graphql, explain, NOT_IMPLEMENTED } from "../api.js";
import { h, clear, setTitle, statusLine, formatDate } from "../dom.js";
import { field, busy } from "../forms.js";
import { viewer, refreshViewer } from "../session.js";
import { JOB_QUERY, APPLY, jobMeta } from "../jobs-api.js";

export async function render(main, { id }) {
  setTitle("Job");
  let job;
  try {
    job = (await graphql(JOB_QUERY, { id })).job;
  } catch (error) {
    main.append(h("h1", {}, "Job"), statusLine(explain(error, "The job board"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
    return;
  }
  if (!job) {
    main.append(h("h1", {}, "Job not found"), statusLine("This job does not exist or has expired.", "warn"),
      h("p", {}, h("a", { href: "/jobs" }, "All jobs")));
    return;
  }
  setTitle(job.title);
  const current = viewer() || await refreshViewer();
  main.append(h("p", { class: "small" }, h("a", { href: "/jobs" }, "← All jobs")),
    h("article", { class: "panel" }, h("h1", {}, job.title), jobMeta(job),
      job.specialty ? h("p", {}, h("strong", {}, "Specialty: "), job.specialty) : null,
      job.expiresOn ? h("p", { class: "small muted" }, `Open until ${formatDate(job.expiresOn)}`) : null,
      h("div", { class: "description" }, job.description)));

  if (job.applications) {
    main.append(h("section", { class: "panel", "aria-labelledby": "applications-heading", id: "applications" },
      h("h2", { id: "applications-heading" }, `Applications (${job.applications.length})`),
      job.applications.length
        ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Applications table" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Application"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Submitted"))),
          h("tbody", {}, job.applications.map((a) => h("tr", {}, h("td", {}, a.id), h("td", {}, a.status), h("td", {}, formatDate(a.submittedAt)))))))
        : h("p", { class: "muted" }, "No applications yet.")));
    return;
  }
  const section = h("section", { class: "panel", "aria-labelledby": "apply-heading" }, h("h2", { id: "apply-heading" }, "Apply"));
  main.append(section);
  if (!current?.account) {
    section.append(h("p", {}, h("a", { href: `/login?next=${encodeURIComponent(location.pathname)}` }, "Log in"), " or ",
      h("a", { href: `/register?next=${encodeURIComponent(location.pathname)}` }, "register free"), " to apply."));
    return;
  }
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", {},
    field("Cover letter", { type: "textarea", name: "coverLetter", required: true }),
    field("Résumé (plain text, optional)", { type: "textarea", name: "resumeText" }),
    status, h("button", { type: "submit" }, "Send application"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      clear(status);
      try {
        const application = (await graphql(APPLY, { input: {
          jobId: job.id, coverLetter: form.elements.namedItem("coverLetter").value,
          resumeText: form.elements.namedItem("resumeText").value || null,
        } })).applyToJob;
        clear(section).append(h("h2", { id: "apply-heading" }, "Apply"),
          statusLine(`Application sent (${application.status.toLowerCase()}, ${formatDate(application.submittedAt)}).`, "ok"));
      } catch (error) {
        status.append(statusLine(explain(error, "Applying"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
      }
    });
  });
  section.append(form);
}
