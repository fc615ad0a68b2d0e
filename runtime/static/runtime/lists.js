// Console lists cut long cells with an ellipsis to fit a laptop; this puts each
// cut cell's whole text on hover (cells that carry their own title keep it).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("#result_list td, #result_list th").forEach(function (cell) {
    if (cell.scrollWidth > cell.clientWidth && !cell.querySelector("[title]")) {
      cell.title = cell.textContent.trim();
    }
  });
});
