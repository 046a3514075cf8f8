// The home page's list of active incidents, kept current (no dependencies).
// On any incident change it re-reads the page and swaps in the list; without
// JavaScript a reload shows the same.
(function () {
  "use strict";
  var list = document.querySelector("[data-live-list]");
  if (!list || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(list.id);
        if (fresh && !list.contains(document.activeElement)) list.innerHTML = fresh.innerHTML;
        list.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next change catches up */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var source = new EventSource(list.getAttribute("data-events"));
  var connectedBefore = false;
  source.addEventListener("change", refresh);
  source.addEventListener("open", function () {
    list.setAttribute("data-live-connected", "true");
    if (connectedBefore) refresh();
    connectedBefore = true;
  });
})();
