// The audit page's live feed: one EventSource on the console's own feed endpoint (the session
// cookie authenticates it). A lost connection is retried by the browser, which sends the last
// seq it saw as Last-Event-ID, so the feed resumes without gaps or repeats. Entries are written
// with textContent only: nothing from the server is parsed as HTML.
(function () {
  'use strict';
  var list = document.getElementById('feed');
  if (!list || !window.EventSource) {
    return;
  }
  var state = document.getElementById('feed-state');
  var say = function (text) {
    if (state) {
      state.textContent = text;
    }
  };
  var seen = {};
  var source = new EventSource(list.getAttribute('data-feed-url'));
  source.addEventListener('open', function () {
    say('live');
  });
  source.addEventListener('error', function () {
    say(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…');
  });
  source.addEventListener('entry', function (event) {
    var entry;
    try {
      entry = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (seen[entry.seq]) {
      return;
    }
    seen[entry.seq] = true;
    var item = document.createElement('li');
    item.setAttribute('data-seq', String(entry.seq));
    item.textContent = 'seq ' + entry.seq + ' · ' + entry.action + ' ' + entry.entity_type +
      ' ' + entry.entity_id + ' v' + entry.entity_version + ' by ' + entry.actor + ' at ' + entry.at;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 200) {
      list.removeChild(list.lastChild);
    }
  });
}());
