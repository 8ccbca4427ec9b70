// The landing page's key figures, read from the public GraphQL API like any client would.
(function () {
  'use strict';
  var figures = document.querySelectorAll('[data-figure]');
  if (!figures.length) return;
  fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: '{ initiatives { totalCount } needStats { total answered } ' +
      'learnings { totalCount } municipalities { totalCount } }' })
  }).then(function (r) { return r.json(); }).then(function (body) {
    var d = body.data || {};
    var values = {
      initiatives: d.initiatives && d.initiatives.totalCount,
      needs: d.needStats && d.needStats.total,
      answered: d.needStats && d.needStats.answered,
      learnings: d.learnings && d.learnings.totalCount,
      municipalities: d.municipalities && d.municipalities.totalCount
    };
    figures.forEach(function (e) {
      var value = values[e.dataset.figure];
      if (value !== undefined && value !== null) e.textContent = String(value);
    });
    document.body.dataset.figures = 'loaded';
  });
})();
