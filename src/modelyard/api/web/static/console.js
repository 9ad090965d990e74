// The console's few behaviours, written for modelyard; every page works without them.
//  - <button data-copy="ID">: copies the text (or value) of element ID, says so.
//  - <form data-confirm="Question?">: asks before sending.
//  - <form data-partial="ID">: sent in the background with "X-Partial: 1"; the answer (an
//    HTML fragment) replaces the contents of element ID, which is then focused.
//  - [data-focus]: focused when the page loads (a form's error summary).
"use strict";

(function () {
  function announce(text) {
    var live = document.getElementById("console-live");
    if (!live) {
      live = document.createElement("p");
      live.id = "console-live";
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      document.body.appendChild(live);
    }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
    copyText(text.trim()).then(function () {
      button.setAttribute("data-copied", "true");
      announce("Copied to the clipboard.");
    }, function () {
      announce("Could not copy: select the text and copy it yourself.");
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var targetId = form.getAttribute("data-partial");
    if (!targetId) { return; }
    var target = document.getElementById(targetId);
    if (!target) { return; }
    event.preventDefault();
    var method = (form.getAttribute("method") || "get").toUpperCase();
    var url = form.getAttribute("action") || window.location.pathname;
    var body = new FormData(form);
    var init = { method: method, headers: { "X-Partial": "1" }, credentials: "same-origin" };
    if (method === "GET") {
      url += (url.indexOf("?") < 0 ? "?" : "&") + new URLSearchParams(body).toString();
    } else {
      init.body = new URLSearchParams(body);
    }
    target.setAttribute("aria-busy", "true");
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(url, init).then(function (response) {
      return response.text();
    }).then(function (html) {
      target.innerHTML = html;
    }, function () {
      target.textContent = "The server could not be reached. Try again.";
    }).finally(function () {
      target.removeAttribute("aria-busy");
      buttons.forEach(function (b) { b.disabled = false; });
      if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
      target.focus();
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var first = document.querySelector("[data-focus]");
    if (first) { first.focus(); }
  });
})();
