// The programme dashboard: built only on the public GraphQL API (the queries below are the
// README's), in the reader's language, refreshed live through the `changes` subscription
// (server-sent events). Every chart has a table with the same figures.
(function () {
  'use strict';
  var TEXTS = {
    en: { title: 'Programme dashboard', intro: 'The circular programme at a glance, from the live data.',
      programme: 'Programme', area: 'Area', from: 'From', to: 'To', all: 'All', apply: 'Apply',
      initiatives: 'Initiatives', needs: 'Needs', answered: 'answered', unanswered: 'unanswered',
      byStage: 'Initiatives by stage', byTheme: 'Initiatives by theme', coverage: 'Needs answered per area',
      outcomes: 'Outcomes over time', indicator: 'Indicator', learnings: 'Latest learnings',
      table: 'Show the figures as a table', count: 'Count', year: 'Year', value: 'Value', none: 'No data yet.',
      live: 'Live: updates as the data changes.', updated: 'Updated', failed: 'The data could not be loaded:',
      home: 'Home', graphiql: 'GraphiQL', openData: 'Open data' },
    nl: { title: 'Programmadashboard', intro: 'Het circulaire programma in één oogopslag, uit de actuele gegevens.',
      programme: 'Programma', area: 'Gebied', from: 'Van', to: 'Tot', all: 'Alle', apply: 'Toepassen',
      initiatives: 'Initiatieven', needs: 'Noden', answered: 'beantwoord', unanswered: 'onbeantwoord',
      byStage: 'Initiatieven per fase', byTheme: 'Initiatieven per thema', coverage: 'Beantwoorde noden per gebied',
      outcomes: 'Resultaten in de tijd', indicator: 'Indicator', learnings: 'Laatste lessen',
      table: 'Toon de cijfers als tabel', count: 'Aantal', year: 'Jaar', value: 'Waarde', none: 'Nog geen gegevens.',
      live: 'Live: werkt bij als de gegevens veranderen.', updated: 'Bijgewerkt', failed: 'De gegevens konden niet geladen worden:',
      home: 'Start', graphiql: 'GraphiQL', openData: 'Open data' },
    fr: { title: 'Tableau de bord du programme', intro: 'Le programme circulaire en un coup d’œil, à partir des données actuelles.',
      programme: 'Programme', area: 'Zone', from: 'Du', to: 'Au', all: 'Tous', apply: 'Appliquer',
      initiatives: 'Initiatives', needs: 'Besoins', answered: 'satisfaits', unanswered: 'non satisfaits',
      byStage: 'Initiatives par étape', byTheme: 'Initiatives par thème', coverage: 'Besoins satisfaits par zone',
      outcomes: 'Résultats dans le temps', indicator: 'Indicateur', learnings: 'Derniers enseignements',
      table: 'Afficher les chiffres en tableau', count: 'Nombre', year: 'Année', value: 'Valeur', none: 'Pas encore de données.',
      live: 'En direct : mis à jour quand les données changent.', updated: 'Mis à jour', failed: 'Les données n’ont pas pu être chargées :',
      home: 'Accueil', graphiql: 'GraphiQL', openData: 'Données ouvertes' },
    de: { title: 'Programm-Dashboard', intro: 'Das Kreislaufprogramm auf einen Blick, aus den aktuellen Daten.',
      programme: 'Programm', area: 'Gebiet', from: 'Von', to: 'Bis', all: 'Alle', apply: 'Anwenden',
      initiatives: 'Initiativen', needs: 'Bedarfe', answered: 'gedeckt', unanswered: 'ungedeckt',
      byStage: 'Initiativen nach Phase', byTheme: 'Initiativen nach Thema', coverage: 'Gedeckte Bedarfe nach Gebiet',
      outcomes: 'Ergebnisse im Zeitverlauf', indicator: 'Indikator', learnings: 'Neueste Erkenntnisse',
      table: 'Zahlen als Tabelle zeigen', count: 'Anzahl', year: 'Jahr', value: 'Wert', none: 'Noch keine Daten.',
      live: 'Live: aktualisiert sich, wenn sich die Daten ändern.', updated: 'Aktualisiert', failed: 'Die Daten konnten nicht geladen werden:',
      home: 'Start', graphiql: 'GraphiQL', openData: 'Offene Daten' }
  };
  // The stages' names (the API gives enumeration values, not labels).
  var STAGES = {
    en: { IDEA: 'Idea', PILOT: 'Pilot', RUNNING: 'Running', SELF_SUSTAINING: 'Self-sustaining', PAUSED: 'Paused', STOPPED: 'Stopped' },
    nl: { IDEA: 'Idee', PILOT: 'Pilot', RUNNING: 'Lopend', SELF_SUSTAINING: 'Zelfbedruipend', PAUSED: 'Gepauzeerd', STOPPED: 'Gestopt' },
    fr: { IDEA: 'Idée', PILOT: 'Pilote', RUNNING: 'En cours', SELF_SUSTAINING: 'Autonome', PAUSED: 'En pause', STOPPED: 'Arrêtée' },
    de: { IDEA: 'Idee', PILOT: 'Pilot', RUNNING: 'Laufend', SELF_SUSTAINING: 'Selbsttragend', PAUSED: 'Pausiert', STOPPED: 'Beendet' }
  };
  var params = new URLSearchParams(window.location.search);
  var wanted = [params.get('lang')].concat(navigator.languages || [navigator.language]);
  var lang = 'en';
  for (var i = 0; i < wanted.length; i++) {
    var code = (wanted[i] || '').slice(0, 2).toLowerCase();
    if (TEXTS[code]) { lang = code; break; }
  }
  var t = TEXTS[lang];
  document.documentElement.lang = lang;
  var $ = function (id) { return document.getElementById(id); };
  var charts = {};
  var indicators = [];
  var loads = 0;

  function graphql(query, variables) {
    return fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json',
        'accept-language': lang },
      body: JSON.stringify({ query: query, variables: variables || {} })
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.errors && !body.data) throw new Error(body.errors[0].message);
      return body.data;
    });
  }

  function text(id, value) { $(id).textContent = value; }
  function element(tag, content, className) {
    var e = document.createElement(tag);
    if (content !== undefined) e.textContent = content;
    if (className) e.className = className;
    return e;
  }

  // A table of label/value rows, the chart's accessible twin.
  function table(id, headers, rows) {
    var holder = $(id);
    holder.textContent = '';
    if (!rows.length) { holder.appendChild(element('p', t.none)); return; }
    var tableEl = element('table');
    var head = element('tr');
    headers.forEach(function (h, i) { head.appendChild(element('th', h, i ? 'number' : '')); });
    tableEl.appendChild(head);
    rows.forEach(function (row) {
      var tr = element('tr');
      tr.dataset.key = row.key;
      row.cells.forEach(function (cell, i) { tr.appendChild(element(i ? 'td' : 'th', String(cell), i ? 'number' : '')); });
      tableEl.appendChild(tr);
    });
    holder.appendChild(tableEl);
  }

  function chart(id, type, labels, datasets, stacked) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: datasets.length > 1 } },
        scales: { x: { stacked: !!stacked }, y: { stacked: !!stacked, beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function filters() {
    var programme = $('programme').value, area = $('area').value;
    // Without a period: the last seven years, for the outcomes.
    var from = $('from').value || (new Date().getFullYear() - 7) + '-01-01';
    var to = $('to').value || new Date().toISOString().slice(0, 10);
    var initiatives = {}, needs = {}, outcomes = {};
    if (programme) { initiatives.programmes = [programme]; needs.programmes = [programme]; outcomes.programmes = [programme]; }
    if (area) { initiatives.areas = [area]; needs.areas = [area]; outcomes.areas = [area]; }
    if ($('from').value || $('to').value) { initiatives.started = { from: from, to: to }; needs.recorded = { from: from, to: to }; }
    return { initiatives: initiatives, needs: needs, outcomes: outcomes, from: from, to: to };
  }

  var DASHBOARD = 'query Dashboard($initiatives: InitiativeFilter, $needs: NeedFilter) {\n' +
    '  stages: initiativeStats(filter: $initiatives, groupBy: [STAGE], includeEmptyGroups: true) { total groups { count keys { value label } } }\n' +
    '  themes: initiativeStats(filter: $initiatives, groupBy: [THEME]) { groups { count keys { value label } } }\n' +
    '  needs: needStats(filter: $needs, groupBy: [AREA], areaGrouping: WITH_SUB_AREAS) { total answered groups { count answered keys { value label } } }\n' +
    '  learnings(first: 5, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id title kind municipality { name } } }\n' +
    '}';
  var SERIES = 'query Outcomes($indicator: ID!, $from: Date!, $to: Date!, $filter: OutcomeFilter) {\n' +
    '  outcomeSeries(indicators: [$indicator], from: $from, to: $to, interval: YEAR, filter: $filter) { series { unit total points { periodStart sum } } }\n' +
    '}';

  function refresh() {
    var f = filters();
    return graphql(DASHBOARD, { initiatives: f.initiatives, needs: f.needs }).then(function (d) {
      text('total-initiatives', d.stages.total);
      text('total-needs', d.needs.total);
      text('answered-needs', d.needs.answered);
      var stages = d.stages.groups.map(function (g) {
        var value = g.keys[0].value;
        return { key: value, label: STAGES[lang][value] || value, count: g.count };
      });
      chart('chart-stages', 'bar', stages.map(function (s) { return s.label; }),
        [{ label: t.initiatives, data: stages.map(function (s) { return s.count; }), backgroundColor: '#0b5394' }]);
      table('table-stages', [t.byStage, t.count], stages.map(function (s) { return { key: s.key, cells: [s.label, s.count] }; }));
      var themes = d.themes.groups.filter(function (g) { return g.keys[0].value; })
        .map(function (g) { return { key: g.keys[0].value, label: g.keys[0].label, count: g.count }; });
      chart('chart-themes', 'bar', themes.map(function (s) { return s.label; }),
        [{ label: t.initiatives, data: themes.map(function (s) { return s.count; }), backgroundColor: '#38761d' }]);
      table('table-themes', [t.byTheme, t.count], themes.map(function (s) { return { key: s.key, cells: [s.label, s.count] }; }));
      var areas = d.needs.groups.filter(function (g) { return g.keys[0].value; })
        .map(function (g) { return { key: g.keys[0].value, label: g.keys[0].label, answered: g.answered, open: g.count - g.answered }; });
      chart('chart-coverage', 'bar', areas.map(function (a) { return a.label; }), [
        { label: t.answered, data: areas.map(function (a) { return a.answered; }), backgroundColor: '#38761d' },
        { label: t.unanswered, data: areas.map(function (a) { return a.open; }), backgroundColor: '#b45f06' }], true);
      table('table-coverage', [t.area, t.answered, t.unanswered], areas.map(function (a) { return { key: a.key, cells: [a.label, a.answered, a.open] }; }));
      var list = $('learnings');
      list.textContent = '';
      d.learnings.nodes.forEach(function (l) {
        var item = element('li');
        item.appendChild(element('strong', l.title));
        item.appendChild(document.createTextNode(' — ' + (l.municipality ? l.municipality.name : '')));
        list.appendChild(item);
      });
      return outcomes(f);
    }).then(function () {
      loads += 1;
      document.body.dataset.loads = String(loads);
      text('status', t.updated + ' ' + new Date().toLocaleTimeString(lang) + '. ' + t.live);
    }).catch(function (error) {
      $('status').className = 'status error';
      text('status', t.failed + ' ' + error.message);
    });
  }

  function outcomes(f) {
    var indicator = $('indicator').value;
    if (!indicator) return Promise.resolve();
    return graphql(SERIES, { indicator: indicator, from: f.from, to: f.to, filter: f.outcomes }).then(function (d) {
      var points = [];
      (d.outcomeSeries.series[0] || { points: [] }).points.forEach(function (p) {
        points.push({ key: p.periodStart, year: p.periodStart.slice(0, 4), sum: Number(p.sum) });
      });
      chart('chart-outcomes', 'line', points.map(function (p) { return p.year; }),
        [{ label: $('indicator').selectedOptions[0].textContent, data: points.map(function (p) { return p.sum; }), borderColor: '#0b5394', backgroundColor: '#0b5394' }]);
      table('table-outcomes', [t.year, t.value], points.map(function (p) { return { key: p.key, cells: [p.year, p.sum] }; }));
    });
  }

  // Options of the filters, in the reader's language.
  function options() {
    return graphql('{ programmes(first: 100) { nodes { id name } } areas(first: 100) { nodes { id name kind } } ' +
      'indicators(first: 100) { nodes { id name unit } } ' +
      'latest: outcomes(first: 1, orderBy: {field: PERIOD_START, direction: DESC}) { nodes { indicator { id } } } }').then(function (d) {
      function fill(select, nodes, first) {
        if (first) select.appendChild(new Option(first, ''));
        nodes.forEach(function (n) { select.appendChild(new Option(n.name, n.id)); });
      }
      fill($('programme'), d.programmes.nodes, t.all);
      fill($('area'), d.areas.nodes, t.all);
      indicators = d.indicators.nodes;
      fill($('indicator'), indicators);
      // The indicator measured last is shown first.
      var latest = d.latest.nodes[0];
      if (latest && latest.indicator) $('indicator').value = latest.indicator.id;
    });
  }

  // Live: every committed change schedules one refresh (changes in a burst refresh once).
  var pending = null;
  function follow() {
    fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { changes { id } }' })
    }).then(function (response) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffered = '';
      function read() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('ended');
          buffered += decoder.decode(chunk.value, { stream: true });
          var end;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            var event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            if (event.indexOf('event: next') === 0 && !pending) {
              pending = setTimeout(function () { pending = null; refresh(); }, 300);
            }
          }
          return read();
        });
      }
      return read();
    }).catch(function () { setTimeout(follow, 2000); });
  }

  function texts() {
    document.title = t.title + ' · Stroom API';
    document.querySelectorAll('[data-text]').forEach(function (e) { e.textContent = t[e.dataset.text]; });
  }

  texts();
  $('filters').addEventListener('submit', function (event) { event.preventDefault(); refresh(); });
  $('indicator').addEventListener('change', function () { outcomes(filters()); });
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  });
  options().then(refresh).then(follow).catch(function (error) {
    $('status').className = 'status error';
    text('status', t.failed + ' ' + error.message);
  });
})();
