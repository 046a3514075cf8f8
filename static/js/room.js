// Live incident room (no dependencies). Listens to the room's server-sent
// events; on each change it fetches the room again and swaps in the parts
// marked data-live, leaving the note being typed alone. Also ticks the clocks.
// Without JavaScript, a reload shows the same.
(function () {
  "use strict";
  var room = document.getElementById("room");
  if (!room || !window.EventSource || !window.fetch || !window.DOMParser) return;

  var refreshing = false;
  var again = false;

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        });
        room.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event or a reload will catch up */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource(room.getAttribute("data-events"));
  source.addEventListener("change", refresh);
  source.addEventListener("open", function () { room.setAttribute("data-live-connected", "true"); });

  function format(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + (m < 10 ? "0" : "") + m + " min";
    if (m > 0) return m + " min";
    return Math.max(0, Math.floor(seconds)) + " s";
  }
  setInterval(function () {
    document.querySelectorAll(".clock[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) el.textContent = format((Date.now() - since) / 1000);
    });
  }, 1000);
})();
