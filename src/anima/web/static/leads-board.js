// The leads board: drag a card onto another column to move the lead (native HTML5 drag and drop).
// Dropping submits the card's own "Move to" form, so the board works without this script and by
// keyboard through those forms. On CONVERTED the card's conversion form is submitted; on LOST the
// card's move form opens with LOST chosen and its reason field focused (a reason is required).
(function () {
  "use strict";
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".lead-card[draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-lead"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".board-column.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  function column(event) {
    return event.target.closest && event.target.closest(".board-column[data-stage]");
  }
  document.addEventListener("dragover", function (event) {
    var col = column(event);
    if (!col || !dragged || col.getAttribute("data-stage") === dragged.getAttribute("data-stage")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    col.classList.add("drop-target");
  });
  document.addEventListener("dragleave", function (event) {
    var col = column(event);
    if (col && !col.contains(event.relatedTarget)) col.classList.remove("drop-target");
  });
  document.addEventListener("drop", function (event) {
    var col = column(event);
    if (!col || !dragged) return;
    event.preventDefault();
    var stage = col.getAttribute("data-stage");
    var card = dragged;
    if (stage === card.getAttribute("data-stage")) return;
    if (stage === "CONVERTED") {
      var convert = card.querySelector("form[data-convert]");
      if (convert) convert.requestSubmit();
      return;
    }
    var form = card.querySelector("form[data-move]");
    var select = form && form.querySelector("select[name=stage]");
    if (!select || !select.querySelector('option[value="' + stage + '"]')) return;
    select.value = stage;
    if (stage === "LOST") {
      var details = form.closest("details");
      if (details) details.open = true;
      var reason = form.querySelector("input[name=reason]");
      if (reason) reason.focus();
      return;
    }
    form.requestSubmit();
  });
})();
