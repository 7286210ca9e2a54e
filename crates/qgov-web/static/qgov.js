// qgov's own small enhancements. Every page works without this file.
(function () {
  "use strict";
  // Filter selects apply at once instead of waiting for the button.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () {
      if (el.form) el.form.submit();
    });
  });
  // Forms marked data-confirm ask before an irreversible action (revoking a token).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
})();
