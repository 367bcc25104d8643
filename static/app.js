// leadbook's pages work without this file; it only makes them quicker to
// work through: the bulk-action panel opens once a row is ticked, a header
// box selects the page, "select all N matching" widens the selection to the
// whole filter, the bulk form shows only the chosen action's field, and the
// first invalid field of a form sent back takes the focus. Served from
// /static (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function bulkList() {
    var form = document.getElementById("bulk");
    var panel = document.getElementById("bulk-panel");
    if (!form || !panel) return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("input[name='ids'][form='bulk']"));
    var pageBox = document.getElementById("select-page");
    var counter = document.getElementById("selected-count");
    var widen = document.getElementById("select-matching");
    var allMatching = null;

    function setAllMatching(on) {
      if (on && !allMatching) {
        allMatching = document.createElement("input");
        allMatching.type = "hidden";
        allMatching.name = "all_matching";
        allMatching.value = "1";
        form.appendChild(allMatching);
      } else if (!on && allMatching) {
        allMatching.remove();
        allMatching = null;
      }
    }

    function refresh() {
      var ticked = rows.filter(function (r) { return r.checked; }).length;
      if (pageBox) {
        pageBox.checked = ticked > 0 && ticked === rows.length;
        pageBox.indeterminate = ticked > 0 && ticked < rows.length;
      }
      if (ticked < rows.length) setAllMatching(false);
      if (counter) {
        counter.textContent = allMatching
          ? "· " + widen.getAttribute("data-all-label") + " selected"
          : ticked > 0 ? "· " + ticked + " selected" : "";
      }
      if (widen) {
        widen.hidden = !(ticked === rows.length && rows.length > 0);
        var button = widen.querySelector("button");
        var note = widen.querySelector(".selected-note");
        if (button) button.hidden = !!allMatching;
        if (note) note.textContent = allMatching
          ? "All " + widen.getAttribute("data-all-label") + " matching contacts are selected."
          : "All " + rows.length + " contacts on this page are selected.";
      }
      if (ticked > 0) panel.open = true;
    }

    rows.forEach(function (r) { r.addEventListener("change", refresh); });
    if (pageBox) {
      pageBox.hidden = false;
      pageBox.addEventListener("change", function () {
        rows.forEach(function (r) { r.checked = pageBox.checked; });
        refresh();
      });
    }
    if (widen) {
      var button = widen.querySelector("button");
      if (button) button.addEventListener("click", function () {
        setAllMatching(true);
        refresh();
      });
    }

    // Show the value field of the chosen action only.
    var action = document.getElementById("bulk-action");
    function showChosen() {
      var chosen = action.value.replace(/^label_(add|remove)$/, "label");
      form.querySelectorAll("[data-bulk-value]").forEach(function (f) {
        f.hidden = f.getAttribute("data-bulk-value") !== chosen;
      });
    }
    if (action) {
      action.addEventListener("change", showChosen);
      showChosen();
    }
    refresh();
  }

  // A form sent back with errors: the first invalid field also carries
  // `autofocus`, which works without scripts; this covers browsers that
  // skip autofocus after a POST.
  function firstInvalid() {
    var field = document.querySelector("[aria-invalid='true']");
    if (field && document.activeElement !== field) field.focus();
  }

  bulkList();
  firstInvalid();
})();
