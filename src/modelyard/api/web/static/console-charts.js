// The dashboard's charts for keyboard and pointer alike: a focused chart's Left/Right
// (Home/End) arrows step through its days; the day pointed at or stepped to is marked and
// its value written below the chart (a polite live region). Without this script the
// values are still in each day's <title> (shown on hover) and in the table by day.
"use strict";

(function () {
  function readout(chart) {
    var box = chart.closest("figure");
    return box ? box.querySelector(".readout") : null;
  }

  function show(chart, day) {
    chart.querySelectorAll("g.day.active").forEach(function (g) { g.classList.remove("active"); });
    if (!day) { return; }
    day.classList.add("active");
    var out = readout(chart);
    if (out) { out.textContent = day.getAttribute("data-value"); }
  }

  document.addEventListener("keydown", function (event) {
    var chart = event.target.closest && event.target.closest("svg[data-chart]");
    if (!chart) { return; }
    var days = Array.prototype.slice.call(chart.querySelectorAll("g.day"));
    if (!days.length) { return; }
    var at = days.indexOf(chart.querySelector("g.day.active"));
    var next = null;
    if (event.key === "ArrowRight") { next = at < 0 ? days.length - 1 : Math.min(at + 1, days.length - 1); }
    else if (event.key === "ArrowLeft") { next = at < 0 ? days.length - 1 : Math.max(at - 1, 0); }
    else if (event.key === "Home") { next = 0; }
    else if (event.key === "End") { next = days.length - 1; }
    if (next === null) { return; }
    event.preventDefault();
    show(chart, days[next]);
  });

  document.addEventListener("mouseover", function (event) {
    var day = event.target.closest && event.target.closest("svg[data-chart] g.day");
    if (day) { show(day.closest("svg[data-chart]"), day); }
  });
}());
