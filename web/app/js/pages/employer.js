// An employer's jobs and their applications: the jobs whose `applications` the API shows
// (it shows them only to the employer who posted the job).
import { graphql, explain, NOT_IMPLEMENTED } from "../api.js";
import { h, setTitle, statusLine } from "../dom.js";
import { refreshViewer } from "../session.js";
import { JOB_FIELDS } from "../jobs-api.js";

const MY_JOBS = `query MyJobs($after: String) {
  jobs(first: 20, after: $after) {
    edges { node { ${JOB_FIELDS} applications { id status submittedAt } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const MAX_PAGES = 25;

export async function render(main) {
  setTitle("Your job posts");
  main.append(h("h1", {}, "Your job posts"));
  const current = await refreshViewer();
  if (!current?.account) {
    main.append(statusLine("Log in with your employer account to see your job posts.", "info"),
      h("p", {}, h("a", { href: "/login?next=/employer", class: "button" }, "Log in")));
    return;
  }
  main.append(h("p", {}, h("a", { href: "/jobs/new", class: "button" }, "Post a job")));
  const mine = [];
  try {
    let after = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await graphql(MY_JOBS, { after });
      mine.push(...data.jobs.edges.map((edge) => edge.node).filter((job) => job.applications));
      if (!data.jobs.pageInfo.hasNextPage) break;
      after = data.jobs.pageInfo.endCursor;
    }
  } catch (error) {
    main.append(statusLine(explain(error, "The job board"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
    return;
  }
  if (!mine.length) {
    main.append(h("p", { class: "muted" }, "You have no open job posts."));
    return;
  }
  main.append(h("ul", { class: "job-list" }, mine.map((job) => h("li", { class: "panel job-card" },
    h("h2", {}, h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, job.title)),
    h("p", {}, `${job.applications.length} application${job.applications.length === 1 ? "" : "s"}`)))));
}
