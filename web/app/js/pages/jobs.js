// Job search with filters (kept in the URL, so a search can be shared), and saved searches.
import { graphql, explain, NOT_IMPLEMENTED } from "../api.js";
import { h, clear, setTitle, statusLine } from "../dom.js";
import { field } from "../forms.js";
import { viewer } from "../session.js";
import { JOBS_QUERY, SAVE_SEARCH, JOB_FIELDS, jobMeta, filterFrom } from "../jobs-api.js";

const JOB_POSTED = `subscription JobPosted($filter: JobFilter) { jobPosted(filter: $filter) { ${JOB_FIELDS} } }`;

const PAGE_SIZE = 20;
const SAVED_KEY = "medcode:saved-job-searches";
const FIELDS = ["query", "location", "certifications", "minSalary", "postedWithinDays"];

export function render(main, params, urlQuery) {
  setTitle("Coding jobs");
  const results = h("section", { id: "job-results", "aria-live": "polite", "aria-label": "Jobs" });
  const remote = h("input", { type: "checkbox", name: "remote", checked: urlQuery.get("remote") === "1" });
  const posted = h("select", { name: "postedWithinDays" },
    [["", "Any time"], ["1", "Last 24 hours"], ["7", "Last 7 days"], ["30", "Last 30 days"]].map(([value, label]) =>
      h("option", { value, selected: urlQuery.get("postedWithinDays") === value && value !== "" }, label)));
  const form = h("form", { class: "panel", role: "search", "aria-label": "Job search" },
    h("div", { class: "row" },
      field("Keywords", { name: "query", type: "search", placeholder: "inpatient coder, CPC, auditor", value: urlQuery.get("query") || "" }),
      field("Location", { name: "location", placeholder: "City or state", value: urlQuery.get("location") || "" }),
      field("Certifications", { name: "certifications", placeholder: "CPC, CCS", value: urlQuery.get("certifications") || "" })),
    h("div", { class: "row" },
      field("Minimum salary (USD)", { name: "minSalary", type: "number", min: "0", step: "1000", value: urlQuery.get("minSalary") || "" }),
      field("Posted", {}, { control: posted }),
      h("div", { class: "field" }, h("label", { class: "check" }, remote, "Remote only"))),
    h("div", { class: "pager" }, h("button", { type: "submit" }, "Search jobs"),
      h("button", { type: "button", class: "secondary", id: "save-search" }, "Save this search"),
      viewer()?.account?.role === "EMPLOYER" ? h("a", { href: "/jobs/new", class: "button secondary" }, "Post a job") : null));
  const saved = h("section", { class: "panel", "aria-labelledby": "saved-heading" });
  const saveStatus = h("div", { "aria-live": "polite" });

  const values = () => {
    const out = {};
    for (const name of FIELDS) out[name] = form.elements.namedItem(name).value.trim();
    out.remote = remote.checked;
    return out;
  };
  const toUrl = (v) => {
    const query = new URLSearchParams();
    for (const name of FIELDS) if (v[name]) query.set(name, v[name]);
    if (v.remote) query.set("remote", "1");
    return `/jobs${query.size ? `?${query}` : ""}`;
  };

  // Jobs posted while the page is open, for the current filter (the jobPosted subscription).
  const live = h("div", { "aria-live": "polite", id: "new-jobs" });
  let subscription = null;
  async function watch(filter) {
    if (subscription) subscription.cancel();
    try {
      subscription = (await import("../ws.js")).subscribe(JOB_POSTED, { filter }, ({ jobPosted: job }) => {
        live.prepend(h("p", { class: "notice notice-info" }, "New job: ",
          h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, job.title), ` at ${job.company}`));
      });
      await subscription.done;
    } catch {
      // No live updates (not on this server, or the connection dropped): searching still works.
    }
  }

  let sequence = 0;
  async function search(after = null) {
    const v = values();
    if (!after) watch(filterFrom(v));
    history.replaceState(history.state, "", toUrl(v));
    const number = ++sequence;
    if (!after) clear(results).append(statusLine("Searching…"));
    try {
      const data = await graphql(JOBS_QUERY, { filter: filterFrom(v), first: PAGE_SIZE, after });
      if (number !== sequence) return;
      drawJobs(data.jobs, Boolean(after));
    } catch (error) {
      if (number !== sequence) return;
      clear(results).append(statusLine(explain(error, "The job board"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
    }
  }

  function drawJobs(jobs, appending) {
    if (!appending) {
      clear(results).append(h("p", { class: "result-meta" }, `${jobs.totalCount} job${jobs.totalCount === 1 ? "" : "s"}`));
      results.append(h("ul", { class: "job-list", id: "job-list" }));
    }
    const list = results.querySelector("#job-list");
    for (const { node } of jobs.edges) {
      list.append(h("li", { class: "panel job-card" },
        h("h2", {}, h("a", { href: `/jobs/${encodeURIComponent(node.id)}` }, node.title)), jobMeta(node)));
    }
    results.querySelector(".pager")?.remove();
    if (jobs.pageInfo.hasNextPage) {
      results.append(h("div", { class: "pager" }, h("button", { type: "button", class: "secondary",
        onclick: () => search(jobs.pageInfo.endCursor) }, "More jobs")));
    }
  }

  function drawSaved() {
    const list = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
    clear(saved).append(h("h2", { id: "saved-heading" }, "Saved searches"));
    if (!list.length) {
      saved.append(h("p", { class: "muted" }, "None yet. “Save this search” keeps the filters above, with email alerts for new matches."));
      return;
    }
    saved.append(h("ul", { class: "plain" }, list.map((item) => h("li", {},
      h("a", { href: item.url }, item.label), item.alerts ? h("span", { class: "muted small" }, " · alerts on") : null))));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  form.querySelector("#save-search").addEventListener("click", async () => {
    clear(saveStatus);
    if (!viewer()?.account) {
      saveStatus.append(statusLine("Log in to save searches and get alerts.", "info"));
      return;
    }
    const v = values();
    try {
      const savedSearch = (await graphql(SAVE_SEARCH, { filter: filterFrom(v), alerts: true })).saveJobSearch;
      const list = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
      const label = Object.entries(v).filter(([, value]) => value).map(([key, value]) => (key === "remote" ? "remote" : `${key}: ${value}`)).join(", ") || "All jobs";
      list.unshift({ id: savedSearch.id, url: toUrl(v), label, alerts: savedSearch.alerts });
      localStorage.setItem(SAVED_KEY, JSON.stringify(list.slice(0, 20)));
      saveStatus.append(statusLine("Search saved. New matching jobs will be emailed to you.", "ok"));
      drawSaved();
    } catch (error) {
      saveStatus.append(statusLine(explain(error, "Saving searches"), error.code === NOT_IMPLEMENTED ? "warn" : "error"));
    }
  });

  main.append(h("h1", {}, "Coding jobs"), form, saveStatus, live, results, saved);
  drawSaved();
  search();
  return () => subscription?.cancel();
}
