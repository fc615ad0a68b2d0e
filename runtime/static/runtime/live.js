// Keeps the run page current while the run moves: fetches the page's live part
// and swaps it in when the run changed (its version), until the run is final.
(function () {
  var region = document.getElementById("job-live");
  if (!region) return;
  var every = 1000;

  function swap(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var root = holder.querySelector(".oris-live-root");
    if (!root || root.dataset.version === region.dataset.version) return;
    var open = Array.prototype.map.call(
      region.querySelectorAll("details[open] > summary"),
      function (summary) { return summary.textContent; }
    );
    region.innerHTML = html;
    region.dataset.version = root.dataset.version;
    region.dataset.terminal = root.dataset.terminal;
    region.querySelectorAll("details > summary").forEach(function (summary) {
      if (open.indexOf(summary.textContent) >= 0) summary.parentNode.open = true;
    });
    if (window.orisDrawDiagram) window.orisDrawDiagram();
  }

  function tick() {
    if (region.dataset.terminal === "true") return;
    fetch(region.dataset.url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html) swap(html); })
      .catch(function () {})
      .then(function () { window.setTimeout(tick, every); });
  }
  window.setTimeout(tick, every);
})();
