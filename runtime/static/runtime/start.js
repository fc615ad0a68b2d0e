// The start-a-run page: shows the chosen graph's input schema and, until the
// input was edited, fills it with that graph's example input.
(function () {
  var graph = document.getElementById("id_graph");
  var input = document.getElementById("id_input");
  var examples = JSON.parse(document.getElementById("oris-examples").textContent);
  var edited = false;
  input.addEventListener("input", function () { edited = true; });
  function show() {
    document.querySelectorAll(".oris-graph-schema").forEach(function (block) {
      block.hidden = block.dataset.graph !== graph.value;
    });
    if (!edited && examples[graph.value] !== undefined) input.value = examples[graph.value];
  }
  graph.addEventListener("change", show);
  document.querySelectorAll(".oris-graph-schema").forEach(function (block) {
    block.hidden = block.dataset.graph !== graph.value;
  });
})();
