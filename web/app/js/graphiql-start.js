// GraphiQL from local files (web/app/vendor), against this gateway's /graphql. A classic
// script: GraphiQL's browser build expects React and ReactDOM as globals.
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)medcode_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // Same-origin POSTs with the session cookie; mutations carry the CSRF header.
  function fetcher(params) {
    var headers = { "content-type": "application/json", accept: "application/json" };
    var csrf = csrfToken();
    if (csrf) headers["x-csrf-token"] = csrf;
    return fetch("/graphql", {
      method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(params),
    }).then(function (response) { return response.json(); });
  }

  var defaultQuery = [
    "# The MedCode API. Ctrl-Enter runs the query; the Docs button lists every field.",
    "{",
    '  searchCodes(query: "achalasia", first: 3) {',
    "    totalCount",
    "    edges { node { system code title billable } }",
    "  }",
    "}",
    "",
  ].join("\n");

  var container = document.getElementById("graphiql");
  if (!window.React || !window.ReactDOM || !window.GraphiQL) return; // the loading note stays
  window.ReactDOM.createRoot(container).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    }));
}());
