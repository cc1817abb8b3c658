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

  // A "select all" checkbox ticks every box of its form with the same name;
  // unticking one of them unticks it again, so a form never sends "all"
  // for a selection the person narrowed.
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var boxes = all.form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]');
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
    });
    boxes.forEach(function (b) {
      b.addEventListener("change", function () { if (!b.checked) { all.checked = false; } });
    });
  });
});
