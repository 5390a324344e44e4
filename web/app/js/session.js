// Who is using the app: the `viewer` query (account and meter), kept for the header and
// refreshed after anything that changes it (login, logout, a code page view).
import { graphql } from "./api.js";

export const VIEWER_QUERY = `query Viewer {
  viewer { account { id email name plan role } meter { plan limit used remaining } }
}`;

let current = null;
const listeners = new Set();

export function viewer() {
  return current;
}

export async function refreshViewer() {
  try {
    const data = await graphql(VIEWER_QUERY);
    current = data.viewer;
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") {
      // A session the server no longer knows (expired, revoked): drop its cookie.
      await graphql("mutation { logout }").catch(() => {});
      current = { account: null, meter: null };
    } else {
      current = current || { account: null, meter: null };
    }
  }
  for (const listener of listeners) listener(current);
  return current;
}

export function onViewer(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function logout() {
  await graphql("mutation Logout { logout }");
  return refreshViewer();
}
