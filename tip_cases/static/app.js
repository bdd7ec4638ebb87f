// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  // Elements with data-refresh="SECONDS" reload the page on that interval (the officer's queue),
  // unless the user is typing in a form on it.
  var el = document.querySelector("[data-refresh]");
  if (el) {
    var seconds = parseInt(el.getAttribute("data-refresh"), 10) || 30;
    setInterval(function () {
      var active = document.activeElement;
      if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA" || active.tagName === "SELECT")) {
        return;
      }
      window.location.reload();
    }, seconds * 1000);
  }
  // Buttons with data-confirm ask before submitting their form.
  document.querySelectorAll("[data-confirm]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      if (!window.confirm(btn.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
