// Print button of the situation report (inline handlers are blocked by the CSP).
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-print]");
  if (el) { event.preventDefault(); window.print(); }
});
