// The portal's only script (no inline scripts: the CSP forbids them). It adds what htmx
// does not: ticking timers, the live-updates status with a polling fallback, flash messages,
// and not replacing a row under a user who is typing in it.
(function () {
  "use strict";

  const POLL_MS = 5000;
  let pollTimer = null;
  let lostOnce = false;

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      const since = Date.parse(el.dataset.since);
      if (!isNaN(since)) el.textContent = clock((now - since) / 1000);
    });
    const region = document.getElementById("sessions-region");
    if (!region) return;
    const warn = Number(region.dataset.holdWarn), alert = Number(region.dataset.holdAlert);
    region.querySelectorAll("[data-held-since]").forEach(function (el) {
      const row = el.closest("tr");
      const held = (now - Date.parse(el.dataset.heldSince)) / 1000;
      row.classList.toggle("hold-alert", held >= alert);
      row.classList.toggle("hold-warn", held >= warn && held < alert);
    });
  }

  function liveRegions() {
    return document.querySelectorAll("#sessions-region, #session-detail");
  }

  function setStatus(state, text) {
    const el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () {
      liveRegions().forEach(function (el) { htmx.trigger(el, "poll"); });
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  document.addEventListener("htmx:sseOpen", function () {
    stopPolling();
    if (lostOnce) {
      // Changes made while we were away were not streamed: fetch the current state once.
      liveRegions().forEach(function (el) { htmx.trigger(el, "poll"); });
      setStatus("live", "Live updates restored.");
    } else {
      setStatus("live", "Live");
    }
  });

  document.addEventListener("htmx:sseError", function () {
    lostOnce = true;
    setStatus("lost", "Live updates lost. Reconnecting; the list refreshes every 5 seconds meanwhile.");
    startPolling();
  });

  // A row being edited (focus inside, or its invite form open) is not replaced under the user,
  // nor is the table around it; they are refreshed once the user leaves the row.
  function busy(elt) {
    return elt.contains(document.activeElement) || elt.querySelector("details[open]") !== null;
  }

  // A new session fetches only its own row (for the page's filters), not the whole table;
  // only an empty page, which has no table yet, re-renders the region.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    const elt = evt.detail.elt;
    const trigger = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    if (elt.id === "sessions-region" && trigger && trigger.target !== elt) {
      evt.preventDefault(); // an sse: event of the counters inside, bubbled up: not ours
      return;
    }
    const body = document.getElementById("sessions-body");
    if (elt.id !== "sessions-region" || !body || !trigger || trigger.type !== "sse:sessions-created") {
      return;
    }
    evt.preventDefault();
    const id = trigger.detail && trigger.detail.data;
    if (id && !document.getElementById("session-" + id)) {
      htmx.ajax("GET", elt.dataset.rowUrl.replace("__id__", encodeURIComponent(id)),
        { target: "#sessions-body", swap: "afterbegin" });
    }
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.defaultPrevented) return;
    const elt = evt.detail.elt;
    const live = (elt.tagName === "TR" && elt.dataset.sessionId) || elt.id === "sessions-region";
    if (live && busy(elt)) {
      evt.preventDefault();
      elt.dataset.stale = "1";
    }
  });

  function refreshStale() {
    document.querySelectorAll("[data-stale]").forEach(function (elt) {
      if (busy(elt)) return;
      delete elt.dataset.stale;
      htmx.trigger(elt, elt.id === "sessions-region" ? "poll" : "refresh");
    });
  }

  document.addEventListener("focusout", function () { setTimeout(refreshStale, 0); });
  document.addEventListener("toggle", function () { setTimeout(refreshStale, 0); }, true);

  document.addEventListener("portal-flash", function (evt) {
    const region = document.getElementById("flash");
    if (!region) return;
    const p = document.createElement("p");
    p.className = "flash " + (evt.detail.failed ? "flash-error" : "flash-success");
    p.textContent = evt.detail.message;
    region.replaceChildren(p);
  });

  // A request that failed outright (network, 5xx) is said in words, not swallowed.
  document.addEventListener("htmx:responseError", function (evt) {
    const region = document.getElementById("flash");
    if (!region) return;
    const p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = evt.detail.xhr.status === 403
      ? "You are not allowed to do that (your sign-in may have expired)."
      : "That did not work: the server could not complete the request. Please try again.";
    region.replaceChildren(p);
  });

  document.addEventListener("htmx:sendError", function () {
    const region = document.getElementById("flash");
    if (region) {
      const p = document.createElement("p");
      p.className = "flash flash-error";
      p.textContent = "The server could not be reached. Check the connection and try again.";
      region.replaceChildren(p);
    }
  });

  // A table redraw is rendered by the server before it arrives, and its rows only listen for
  // events once htmx has processed them: an event streamed in between may describe a change
  // the redraw does not show. So a redraw that saw events go by is followed by one more.
  let watching = false;
  let missed = false;

  document.addEventListener("htmx:beforeSend", function (evt) {
    const target = evt.detail.target;
    if (target && target.id === "sessions-region") {
      watching = true;
      missed = false;
    }
  });

  document.addEventListener("htmx:sseMessage", function () {
    if (watching) missed = true;
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    const target = evt.detail.target;
    if (watching && target && target.id === "sessions-region" && !evt.detail.successful) {
      watching = false; // nothing will be swapped in
    }
  });

  // Fired once the swapped-in region is processed and its rows listen again.
  document.addEventListener("htmx:load", function (evt) {
    if (!watching || evt.detail.elt.id !== "sessions-region") return;
    watching = false;
    if (missed) {
      missed = false;
      htmx.trigger(evt.detail.elt, "poll");
    }
  });

  // Filters pushed into the URL without their empty fields: a shorter link to share.
  document.addEventListener("htmx:configRequest", function (evt) {
    if (evt.detail.elt.id !== "filters") return;
    const params = evt.detail.parameters;
    const names = params instanceof FormData ? Array.from(new Set(params.keys())) : Object.keys(params);
    names.forEach(function (name) {
      const value = params instanceof FormData ? params.get(name) : params[name];
      if (value === "" || value === null) {
        if (params instanceof FormData) params.delete(name); else delete params[name];
      }
    });
  });

  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
