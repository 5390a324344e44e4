// The meter's wording, as on the product: a banner over the code page and the lock over
// each premium section once the quota is spent.
import { h } from "./dom.js";

// What a free account adds to a guest's views. The API tells a caller its own limit only
// (METERING_FREE_VIEWS minus METERING_GUEST_VIEWS on the server; 6 - 1 by default).
export const FREE_EXTRA_VIEWS = 5;

function views(n) {
  return `${n} code page view${n === 1 ? "" : "s"}`;
}

/** The banner for a code page's access and the caller's plan; null when unlimited. */
export function meterBanner(access, plan) {
  if (access.remaining === null || access.remaining === undefined) {
    if (access.granted) return null;
    return h("div", { class: "notice notice-warn meter-banner", role: "status" }, h("p", {}, access.reason || "The full page is not available right now."));
  }
  const remaining = access.remaining;
  const limit = access.limit;
  if (plan === "GUEST" || !plan) {
    return h("div", { class: `notice ${remaining > 0 ? "notice-info" : "notice-warn"} meter-banner`, role: "status", id: "meter-banner" },
      h("p", {}, `${views(remaining)} remaining. Guest accounts are limited to ${limit} page view${limit === 1 ? "" : "s"}. `,
        h("a", { href: `/register?next=${encodeURIComponent(location.pathname)}` }, "Register free account"), ` to get ${FREE_EXTRA_VIEWS} more views.`));
  }
  return h("div", { class: `notice ${remaining > 0 ? "notice-info" : "notice-warn"} meter-banner`, role: "status", id: "meter-banner" },
    h("p", {}, `${views(remaining)} remaining. ${plan === "FREE" ? "Free" : plan} accounts are limited to ${limit} page views per period.`,
      remaining > 0 ? "" : " The official descriptor stays free; the rest of each page unlocks in the next period or with PRO."));
}

/** What a premium section shows when the page's access was not granted. */
export function lockedSection(access, plan) {
  if (access.remaining === null || access.remaining === undefined) {
    return h("div", { class: "locked" }, h("strong", {}, "Not available right now"), h("p", {}, access.reason || ""));
  }
  if (plan === "GUEST" || !plan) {
    return h("div", { class: "locked" },
      h("strong", {}, "Register to view content"),
      h("p", {}, "Create a free account to unlock this content"),
      h("a", { href: `/register?next=${encodeURIComponent(location.pathname)}`, class: "button" }, "Create a free account"),
      " ", h("a", { href: `/login?next=${encodeURIComponent(location.pathname)}`, class: "button secondary" }, "Log in"));
  }
  return h("div", { class: "locked" },
    h("strong", {}, "Your page views for this period are used up"),
    h("p", {}, access.reason || "Upgrade to PRO for unlimited code pages."));
}
