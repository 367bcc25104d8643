// The import pages, enhanced: the upload form refuses a file over the
// limit before sending it, and a running import's progress bar follows the
// commit without reloading the page (GET /imports/{id}/progress), then
// reloads once the import is done. Without JavaScript the pages still work.
(function () {
  "use strict";

  var file = document.querySelector("input[type=file][data-max-bytes]");
  if (file) {
    var sizeError = document.getElementById("file-size-error");
    file.addEventListener("change", function () {
      var max = Number(file.getAttribute("data-max-bytes"));
      var chosen = file.files && file.files[0];
      var tooBig = chosen && max > 0 && chosen.size > max;
      var message = tooBig
        ? "This file is " + (chosen.size / 1048576).toFixed(1) + " MB, over the upload limit of " +
          file.getAttribute("data-max-mb") + " MB."
        : "";
      file.setCustomValidity(message);
      if (sizeError) {
        sizeError.textContent = message;
        sizeError.hidden = !tooBig;
      }
    });
  }

  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var shownState = box.getAttribute("data-state");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var percent = box.querySelector("[data-progress-percent]");
  var numbers = window.Intl ? new Intl.NumberFormat("en-US") : null;
  var delay = 1000;

  function grouped(n) {
    return numbers ? numbers.format(n) : String(n);
  }

  function show(p) {
    if (bar) {
      bar.max = p.total_rows > 0 ? p.total_rows : 1;
      bar.value = p.done_rows;
      bar.textContent = p.percent + "%";
    }
    if (text) {
      text.textContent = p.text;
    }
    if (percent) {
      percent.textContent = String(p.percent);
    }
    if (p.counts) {
      Object.keys(p.counts).forEach(function (key) {
        var count = document.querySelector("[data-outcome='" + key + "'] strong");
        if (count) {
          count.textContent = grouped(p.counts[key]);
        }
      });
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (res) {
        if (!res.ok) {
          throw new Error("progress answered " + res.status);
        }
        return res.json();
      })
      .then(function (p) {
        if (p.state !== shownState || p.stalled) {
          // Done, refused or stalled: the page itself says what next.
          window.location.reload();
          return;
        }
        show(p);
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // The server may be restarting: ask again, less often.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
