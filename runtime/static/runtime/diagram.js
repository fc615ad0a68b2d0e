// Draws the job page's graph diagram from its Mermaid source, offline (vendored
// Mermaid). Without JavaScript the source stays readable in the page.
window.addEventListener("DOMContentLoaded", function () {
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  mermaid.run({ querySelector: "#graph-diagram" });
});
