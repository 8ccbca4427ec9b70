// Starts GraphiQL against this server's endpoint. A `?query=` (and `variables=`) in the page's
// address opens with that query, so links can share one. Subscriptions run over graphql-ws on
// the same path.
(function () {
  var params = new URLSearchParams(window.location.search);
  var wsOrigin = window.location.origin.replace(/^http/, 'ws');
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + '/graphql',
    subscriptionUrl: wsOrigin + '/graphql',
    headers: { Accept: 'application/graphql-response+json, application/json;q=0.9' },
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: '# Stroom API: the circular initiatives, needs, partners, outcomes and\n' +
        '# learnings of a city programme. The Docs pane is the manual.\n' +
        '{\n  initiatives(first: 5) {\n    totalCount\n    nodes { name stage businessModel themes { nodes { label } } }\n  }\n}\n',
      query: params.get('query') || undefined,
      variables: params.get('variables') || undefined,
      defaultEditorToolsVisibility: true,
    })
  );
})();
