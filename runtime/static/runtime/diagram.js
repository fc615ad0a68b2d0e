// Draws the job page's graph diagram from its Mermaid source, offline (vendored
// Mermaid). Without JavaScript the source stays readable in the page.
// ``orisDrawDiagram`` draws it again after the live part of the page changed.
window.orisDrawDiagram = function () {
  mermaid.run({ querySelector: "#graph-diagram" });
};
window.addEventListener("DOMContentLoaded", function () {
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  window.orisDrawDiagram();
});
