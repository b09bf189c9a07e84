// The ledger console's one script: it makes the countdowns tick. Each
// <time data-countdown="T"> is written by the server as how long until T by
// the ledger's clock; this keeps it current, measured from the ledger's
// clock (the page's data-now) rather than the browser's, and writes the
// same words as the server (console/timefmt.go, duration).
(function () {
  "use strict";
  var nodes = document.querySelectorAll("time[data-countdown]");
  if (nodes.length === 0) return;
  var ledgerNow = Date.parse(document.body.getAttribute("data-now"));
  var offset = isNaN(ledgerNow) ? 0 : ledgerNow - Date.now();

  function words(ms) {
    if (ms < 0) ms = 0;
    var total = Math.floor(ms / 1000);
    var days = Math.floor(total / 86400);
    total -= days * 86400;
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var parts = [];
    if (days > 0) parts.push(days + (days === 1 ? " day" : " days"));
    if (days > 0 || h > 0) parts.push(h + " h");
    parts.push(m + " min");
    if (days === 0) parts.push(s + " s");
    return parts.join(" ");
  }

  function tick() {
    var now = Date.now() + offset;
    for (var i = 0; i < nodes.length; i++) {
      var left = Date.parse(nodes[i].getAttribute("data-countdown")) - now;
      nodes[i].textContent = left > 0 ? words(left) : "0 min 0 s (reload the page)";
      nodes[i].setAttribute("data-ticking", "true");
    }
  }
  tick();
  setInterval(tick, 1000);
})();
