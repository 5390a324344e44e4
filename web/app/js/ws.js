// GraphQL subscriptions over the graphql-transport-ws protocol (graphql-ws's client).
// The websocket is same-origin, so the browser sends the session cookie with it.
import { createClient } from "/static/vendor/graphql-ws/client.js";
import { ApiError } from "./api.js";

let client = null;

function wsClient() {
  if (!client) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    client = createClient({ url: `${scheme}//${location.host}/graphql`, lazy: true, retryAttempts: 2 });
  }
  return client;
}

function asApiError(errors) {
  const list = Array.isArray(errors) ? errors : [errors];
  const first = list[0] || {};
  if (first instanceof Error && !first.extensions) {
    return new ApiError("The live connection to the server failed.", "NETWORK");
  }
  if (first && typeof first.code === "number") { // a CloseEvent
    return new ApiError(`The live connection closed (${first.code}${first.reason ? `: ${first.reason}` : ""}).`, "NETWORK");
  }
  return new ApiError(first.message || "The subscription failed.", first.extensions?.code || "ERROR", list);
}

/** Subscribes; calls onData(data) per event. Resolves when the server completes,
 * rejects with ApiError. Returns {done: Promise, cancel()}. */
export function subscribe(query, variables, onData) {
  let cancel = () => {};
  const done = new Promise((resolve, reject) => {
    cancel = wsClient().subscribe({ query, variables }, {
      next: (result) => {
        if (result.errors?.length) reject(asApiError(result.errors));
        else onData(result.data);
      },
      error: (error) => reject(asApiError(error)),
      complete: resolve,
    });
  });
  return { done, cancel: () => cancel() };
}
