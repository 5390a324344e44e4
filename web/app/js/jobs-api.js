// The job board's GraphQL documents and how a job is shown.
import { h, formatDate } from "./dom.js";

export const JOB_FIELDS = `id title company location remote employmentType salaryMin salaryMax certifications specialty description postedAt expiresOn`;
export const JOBS_QUERY = `query Jobs($filter: JobFilter, $first: Int, $after: String) {
  jobs(filter: $filter, first: $first, after: $after) {
    totalCount edges { cursor node { ${JOB_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
export const JOB_QUERY = `query Job($id: ID!) {
  job(id: $id) { ${JOB_FIELDS} applications { id status submittedAt } }
}`;
export const SAVE_SEARCH = `mutation SaveJobSearch($filter: JobFilter!, $alerts: Boolean) {
  saveJobSearch(filter: $filter, alerts: $alerts) { id filter alerts }
}`;
export const APPLY = `mutation Apply($input: ApplicationInput!) {
  applyToJob(input: $input) { id status submittedAt job { id title } }
}`;
export const POST_JOB = `mutation PostJob($input: JobInput!) { postJob(input: $input) { id title } }`;

export function salary(job) {
  const money = (n) => `$${Number(n).toLocaleString("en-US")}`;
  if (job.salaryMin && job.salaryMax) return `${money(job.salaryMin)}–${money(job.salaryMax)}`;
  if (job.salaryMin) return `from ${money(job.salaryMin)}`;
  if (job.salaryMax) return `up to ${money(job.salaryMax)}`;
  return null;
}

export function jobMeta(job) {
  return h("p", { class: "job-meta" },
    h("span", {}, job.company), h("span", {}, job.remote ? `Remote · ${job.location}` : job.location),
    h("span", {}, job.employmentType), salary(job) ? h("span", {}, salary(job)) : null,
    job.certifications?.length ? h("span", {}, job.certifications.join(", ")) : null,
    h("span", {}, `Posted ${formatDate(job.postedAt)}`));
}

/** A JobFilter from the search form's fields (empty ones left out). */
export function filterFrom(values) {
  const filter = {};
  if (values.query) filter.query = values.query;
  if (values.location) filter.location = values.location;
  if (values.remote) filter.remote = true;
  if (values.certifications) filter.certifications = values.certifications.split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase());
  if (values.minSalary) filter.minSalary = Number.parseInt(values.minSalary, 10);
  if (values.postedWithinDays) filter.postedWithinDays = Number.parseInt(values.postedWithinDays, 10);
  return filter;
}
