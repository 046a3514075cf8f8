// Live incident room (no dependencies). Without JavaScript the room works as
// plain forms and a reload shows the same; this makes it live and keeps what
// people type:
// - on every `change` event (and whenever the stream reconnects) it asks for
//   the timeline entries after the newest one it has, inserts them without
//   moving what is being read, and re-reads the side panels only when
//   something other than a note happened;
// - a panel is never replaced while it holds focus, typed text or a refused
//   field; the typing forms are outside the live panels altogether;
// - a note is sent in the background, so the note field keeps focus;
// - a refused form (422) is shown at the room's own URL with the first wrong
//   field focused.
(function () {
  "use strict";
  var room = document.getElementById("room");
  if (!room) return;
  var roomUrl = "/incidents/" + room.getAttribute("data-incident");

  // A refused form: the room's URL (not the POST path), and the first wrong field in view.
  if (window.location.pathname !== roomUrl && window.history && history.replaceState) {
    history.replaceState(null, "", roomUrl + window.location.search);
  }
  var wrong = document.querySelector("[aria-invalid='true']");
  if (wrong) {
    for (var p = wrong.parentElement; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
    wrong.focus();
    var formTop = wrong.form && wrong.form.querySelector(".form-error");
    (formTop || wrong).scrollIntoView({ block: "center" });
  }

  if (!window.EventSource || !window.fetch || !window.DOMParser) return;

  var timeline = document.getElementById("room-timeline");
  var newestFirst = room.getAttribute("data-order") !== "oldest";

  // Whether a part of the page holds something a person is using.
  function busy(el) {
    if (el.contains(document.activeElement) && document.activeElement !== document.body) return true;
    var controls = el.querySelectorAll("input, textarea, select");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.getAttribute("aria-invalid") === "true") return true;
      if (c.type === "hidden" || c.type === "submit") continue;
      if (c.tagName === "SELECT") {
        for (var j = 0; j < c.options.length; j++) if (c.options[j].selected !== c.options[j].defaultSelected) return true;
      } else if (c.type === "checkbox" || c.type === "radio") {
        if (c.checked !== c.defaultChecked) return true;
      } else if (c.value !== c.defaultValue) {
        return true;
      }
    }
    return false;
  }

  // The first entry on screen and where it is, to keep it there.
  function anchor() {
    var items = timeline.children;
    for (var i = 0; i < items.length; i++) {
      var top = items[i].getBoundingClientRect().top;
      if (top >= 0) return { el: items[i], top: top };
    }
    return null;
  }

  function insertEntry(li) {
    var old = document.getElementById(li.id);
    if (old) { old.parentNode.replaceChild(li, old); return; }
    var at = li.getAttribute("data-at") || "";
    var items = timeline.children;
    for (var i = 0; i < items.length; i++) {
      var other = items[i].getAttribute("data-at") || "";
      // Entries are in time order; a back-dated one goes where it belongs.
      if (newestFirst ? other < at : other > at) { timeline.insertBefore(li, items[i]); return; }
    }
    timeline.appendChild(li);
  }

  function markKeyMoments(ids) {
    var on = {};
    ids.split(",").forEach(function (id) { if (id) on["entry-" + id] = true; });
    Array.prototype.forEach.call(timeline.children, function (li) {
      var id = li.id.replace("entry-", "");
      var is = !!on[li.id];
      if (li.classList.contains("highlighted") === is) return;
      li.classList.toggle("highlighted", is);
      var mark = li.querySelector(".key-mark");
      if (is && !mark) {
        mark = document.createElement("span");
        mark.className = "key-mark";
        mark.innerHTML = " · <strong>Key moment</strong>";
        li.querySelector("time").parentNode.insertBefore(mark, li.querySelector("time").nextSibling.nextSibling);
      } else if (!is && mark) {
        mark.parentNode.removeChild(mark);
      }
      var button = li.querySelector("button[name='mark'], button[name='unmark']");
      if (button) {
        button.name = is ? "unmark" : "mark";
        button.textContent = is ? "Unmark key moment #" + id : "Mark #" + id + " as key moment";
      }
    });
  }

  var stale = false;
  function refreshPanels() {
    fetch(roomUrl + (newestFirst ? "" : "?order=oldest"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        stale = false;
        document.querySelectorAll("[data-live]").forEach(function (el) {
          if (el === timeline) return;
          var fresh = el.id && doc.getElementById(el.id);
          if (!fresh) return;
          if (busy(el)) { stale = true; return; }
          var open = [];
          el.querySelectorAll("details[open] > summary").forEach(function (s) { open.push(s.textContent); });
          el.innerHTML = fresh.innerHTML;
          el.querySelectorAll("details > summary").forEach(function (s) {
            if (open.indexOf(s.textContent) >= 0) s.parentNode.open = true;
          });
        });
        var freshRoom = doc.getElementById("room");
        if (freshRoom && !stale) room.setAttribute("data-panel-state", freshRoom.getAttribute("data-panel-state"));
        room.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { stale = true; });
  }
  // A panel skipped because someone was using it catches up when they leave it.
  document.addEventListener("focusout", function () { if (stale) setTimeout(refreshPanels, 0); });

  var fetching = false, again = false;
  function catchUp() {
    if (fetching) { again = true; return; }
    fetching = true;
    var after = room.getAttribute("data-last-entry") || "0";
    fetch(room.getAttribute("data-entries") + "?after=" + encodeURIComponent(after), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var list = doc.getElementById("new-entries");
        if (!list) return;
        var keep = anchor();
        Array.prototype.slice.call(list.children).forEach(function (li) { insertEntry(document.importNode(li, true)); });
        markKeyMoments(list.getAttribute("data-highlighted") || "");
        if (keep) window.scrollBy(0, keep.el.getBoundingClientRect().top - keep.top);
        room.setAttribute("data-last-entry", list.getAttribute("data-last-entry"));
        if (list.getAttribute("data-more") === "true") again = true;
        if (list.getAttribute("data-panel-state") !== room.getAttribute("data-panel-state") || stale) refreshPanels();
        room.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event catches up */ })
      .then(function () {
        fetching = false;
        if (again) { again = false; catchUp(); }
      });
  }

  var source = new EventSource(room.getAttribute("data-events"));
  source.addEventListener("change", catchUp);
  var connectedBefore = false;
  source.addEventListener("open", function () {
    room.setAttribute("data-live-connected", "true");
    // After a reconnect, fetch whatever happened while the stream was down.
    if (connectedBefore) catchUp();
    connectedBefore = true;
  });

  // Notes go in the background: the field keeps focus and the next keys go into it.
  var noteForm = document.getElementById("note-form");
  var noteBody = document.getElementById("note-body");
  if (noteForm && noteBody && window.URLSearchParams && window.FormData) {
    noteForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var sent = noteBody.value;
      var body = new URLSearchParams(new FormData(noteForm));
      noteBody.value = "";
      noteBody.focus();
      fetch(noteForm.action, {
        method: "POST", credentials: "same-origin", redirect: "manual", body: body,
        headers: { "Content-Type": "application/x-www-form-urlencoded" }
      }).then(function (r) {
        if (r.type === "opaqueredirect" || (r.status >= 200 && r.status < 400)) {
          var error = noteForm.querySelector(".form-error, .field-error");
          if (error) noteForm.querySelectorAll(".form-error, .field-error").forEach(function (e) { e.remove(); });
          noteBody.removeAttribute("aria-invalid");
          noteForm.querySelectorAll("#note-happened-at, #note-corrects").forEach(function (i) { i.value = ""; });
          catchUp();
          return;
        }
        return r.text().then(function (html) {
          // Refused: show the message, give the text back.
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("note-form");
          noteBody.value = sent + noteBody.value;
          if (fresh) {
            noteForm.querySelectorAll(".form-error, .field-error").forEach(function (e) { e.remove(); });
            var top = fresh.querySelector(".form-error");
            if (top) noteForm.insertBefore(document.importNode(top, true), noteForm.children[1]);
            var message = fresh.querySelector("#note-body-error");
            if (message) {
              noteBody.closest(".field").appendChild(document.importNode(message, true));
              noteBody.setAttribute("aria-invalid", "true");
              noteBody.setAttribute("aria-describedby", "note-body-error");
            }
          }
          noteBody.focus();
        });
      }).catch(function () { noteBody.value = sent + noteBody.value; });
    });
  }

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
