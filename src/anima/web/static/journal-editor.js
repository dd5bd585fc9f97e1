// The journal's rich-text editor: pell (vendored, MIT) over a plain textarea.
// Without JavaScript the textarea is sent as it is, with format=text (the page escapes it).
// With it, each [data-rich-editor] gets pell's toolbar and editable area; the area's HTML is
// copied into the textarea (name "html", what the journal's schema expects) on every change and
// before the form is sent, and format becomes "html" (the service sanitizes it either way).
(function () {
  "use strict";
  var ACTIONS = ["bold", "italic", "underline", "heading2", "ulist", "olist", "quote"];
  // the buttons' marks are drawn by the stylesheet (.pell-icon-NAME::before): their names are the
  // translated titles alone (aria-label), in every language

  function escapeText(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML.replace(/\n/g, "<br>");
  }

  function setup(box) {
    var textarea = box.querySelector("textarea");
    var format = box.querySelector("input[name=format]");
    var label = box.querySelector("label");
    if (!textarea || !format || !window.pell || box.getAttribute("data-ready")) return;
    box.setAttribute("data-ready", "1");
    var holder = document.createElement("div");
    holder.className = "pell";
    textarea.parentNode.insertBefore(holder, textarea);
    var actions = ACTIONS.map(function (name) {
      var action = { name: name, icon: '<span class="pell-icon pell-icon-' + name + '" aria-hidden="true"></span>' };
      var title = box.getAttribute("data-title-" + name);
      if (title) action.title = title;
      return action;
    });
    window.pell.init({
      element: holder,
      actions: actions,
      defaultParagraphSeparator: "p",
      onChange: function (html) { textarea.value = html; }
    });
    var content = holder.content;
    var bar = holder.querySelector(".pell-actionbar");
    if (bar) {
      bar.setAttribute("role", "toolbar");
      bar.setAttribute("aria-label", box.getAttribute("data-toolbar") || "");
      bar.querySelectorAll("button").forEach(function (button) {
        button.setAttribute("aria-label", button.title);
      });
    }
    content.setAttribute("role", "textbox");
    content.setAttribute("aria-multiline", "true");
    if (label) {
      if (!label.id) label.id = textarea.id + "-label";
      content.setAttribute("aria-labelledby", label.id);
      label.removeAttribute("for");
      label.addEventListener("click", function () { content.focus(); });
    }
    var described = textarea.getAttribute("aria-describedby");
    if (described) content.setAttribute("aria-describedby", described);
    if (textarea.getAttribute("aria-invalid")) content.setAttribute("aria-invalid", "true");
    content.innerHTML = format.value === "text" ? escapeText(textarea.value) : textarea.value;
    textarea.value = content.innerHTML;
    format.value = "html";
    textarea.required = false;
    textarea.hidden = true;
    var form = box.closest("form");
    if (form) {
      form.addEventListener("submit", function () { textarea.value = content.innerHTML; });
    }
  }

  function setupAll() {
    document.querySelectorAll("[data-rich-editor]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
