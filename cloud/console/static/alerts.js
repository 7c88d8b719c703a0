// The alert inbox and an alert's page, kept live by the /console/alerts/live stream.
// The stream names changed alerts ({"ids": [...]}, only those this person may see) or
// everything ({"all": true}: when it opens, and when the scheduler changed an unknown
// set); the page then has htmx ask for its live part again ([data-live-target]: the
// inbox's table, or one alert's state), which swaps itself out. Nothing here renders an
// alert: the server does, in the reader's language.
(function () {
  "use strict";

  var state = document.querySelector(".live-state[data-stream]");
  if (!state || typeof EventSource === "undefined") return;
  var textsNode = document.getElementById("alerts-texts");
  var words = textsNode ? JSON.parse(textsNode.textContent) : {};
  var refreshed = 0;

  function setState(name, text) {
    state.dataset.state = name;
    state.textContent = text || "";
  }

  // The live part as it is now (htmx replaces the element on every refresh).
  function target() {
    return document.querySelector("[data-live-target]");
  }

  function concerns(element, change) {
    if (change.all) return true;
    var only = element.dataset.alert; // one alert's page: only its own changes
    if (!only) return (change.ids || []).length > 0;
    return (change.ids || []).indexOf(Number(only)) !== -1;
  }

  var stream = new EventSource(state.dataset.stream);
  stream.addEventListener("open", function () { setState("live", words.live); });
  stream.addEventListener("error", function () {
    if (stream.readyState === EventSource.CLOSED) setState("closed", words.signed_out);
    else setState("reconnecting", words.reconnecting);
  });
  stream.addEventListener("alerts", function (event) {
    setState("live", words.live);
    var element = target();
    if (element && concerns(element, JSON.parse(event.data))) {
      htmx.trigger(element, "alerts-changed");
    }
  });
  stream.addEventListener("signed-out", function () {
    stream.close();
    setState("closed", words.signed_out);
  });

  // Counted after each swap, for people and tests who ask whether the page kept up.
  document.body.addEventListener("htmx:afterSwap", function () {
    refreshed += 1;
    document.body.dataset.liveRefreshes = String(refreshed);
  });
  window.FieldAlerts = {
    refreshes: function () { return refreshed; },
    state: function () { return state.dataset.state; },
  };
})();
