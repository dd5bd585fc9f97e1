// Anima's own small script (no inline script anywhere: the Content-Security-Policy forbids it).
// Menus are native <details>: close an open one on Escape or on a click outside it.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // A form marked data-confirm asks before it is sent (destructive actions).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();

// Signup: suggest the workspace address (slug) from the organization's name until the person
// types an address of their own (an input with data-slug-source names the slug field's id).
(function () {
  "use strict";
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/g, "");
  }
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input || !input.getAttribute) return;
    var targetId = input.getAttribute("data-slug-source");
    if (targetId) {
      var slug = document.getElementById(targetId);
      if (slug && slug.getAttribute("data-edited") !== "true") slug.value = slugify(input.value);
      return;
    }
    if (document.querySelector('[data-slug-source="' + input.id + '"]')) {
      input.setAttribute("data-edited", input.value === "" ? "false" : "true");
    }
  });
})();

// A button with data-copy-target copies that field's text (e.g. a pay link); without the script
// the read-only field is still there to select and copy by hand.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy-target]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) return;
    field.select();
    var done = function () { button.textContent = button.getAttribute("data-copied") || button.textContent; };
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () {});
    else if (document.execCommand && document.execCommand("copy")) done();
  });
})();
