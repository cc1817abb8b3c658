// leadrelay console: a little script where it helps, nothing a page needs.
// Every page works without it (forms post, progress pages refresh).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // <time data-countdown datetime="…"> counts down to its time, each second.
  var clocks = document.querySelectorAll("time[data-countdown]");
  function tick() {
    var now = Date.now();
    clocks.forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.getAttribute("datetime")) - now) / 1000));
      // A handover waits for days: days and hours say more than minutes.
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = left === 0 ? "expired" :
        d > 0 ? d + "d " + h + "h left" :
        h > 0 ? h + "h " + m + "m left" :
        m + ":" + (s < 10 ? "0" : "") + s + " left";
    });
  }
  if (clocks.length) { tick(); setInterval(tick, 1000); }

  // A "select all" checkbox ticks every box of its form with the same name.
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      all.form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (b) {
        b.checked = all.checked;
      });
    });
  });
});
