// modelyard's GraphiQL: the editor against this server's /graphql. Every request carries
// the headers editor's content: put an API key (myk_...) or an OAuth access token
// (myat_...) after "Bearer". Nothing is kept in the browser's storage.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var headers = JSON.stringify({ Authorization: "Bearer <API key or access token>" }, null, 2);
  var query = [
    "# Put your credential in the Headers tab below, then run (Ctrl-Enter).",
    "# The schema (Docs) loads once the credential is there: use the refresh button.",
    "{",
    "  systemSettings {",
    "    key",
    "    value",
    "  }",
    "}",
    ""
  ].join("\n");
  var fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: query,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false
    })
  );
})();
