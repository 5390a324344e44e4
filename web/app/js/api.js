// The app's only way to the platform: the public GraphQL API at /graphql, like any other
// client. Login sets an HttpOnly session cookie (script never sees the token); mutations
// carry the CSRF token from the readable medcode_csrf cookie in X-CSRF-Token.

export class ApiError extends Error {
  constructor(message, code, errors = []) {
    super(message);
    this.code = code;
    this.errors = errors;
  }
}

export const NOT_IMPLEMENTED = "NOT_IMPLEMENTED";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function csrfToken() {
  return cookie("medcode_csrf");
}

/** Runs a query or mutation; resolves to `data`, or throws ApiError with the first
 * error's message and extensions.code. */
export async function graphql(query, variables = {}, { signal } = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const csrf = csrfToken();
  if (csrf) headers["x-csrf-token"] = csrf;
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST", headers, credentials: "same-origin", signal,
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Check that the platform is running.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a GraphQL result.`, "HTTP");
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code || "ERROR", body.errors);
  }
  return body.data;
}

/** A human sentence for an error, whatever it was. */
export function explain(error, what = "This") {
  if (error?.code === NOT_IMPLEMENTED) {
    return `${what} is not available on this server yet (the API answers NOT_IMPLEMENTED).`;
  }
  if (error?.code === "UNAUTHENTICATED") return error.message || "Please log in first.";
  if (error?.code === "FORBIDDEN") return error.message || "You are not allowed to do that.";
  return error?.message || String(error);
}
