/* "Download all as .zip": ask the API for the bundle, show its progress, then start the download.
   Without this file the form posts to the bundle page, which refreshes itself until it is ready. */
(function () {
  "use strict";

  var POLL_MS = 1000;

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function start(form) {
    var button = form.querySelector("[data-bundle-button]");
    var label = form.querySelector("[data-bundle-label]");
    var box = form.querySelector("[data-bundle-progress]");
    var bar = box.querySelector("progress");
    var text = form.querySelector("[data-bundle-text]");
    var original = label.textContent;

    function finish(message) {
      button.removeAttribute("aria-busy");
      button.disabled = false;
      label.textContent = original;
      if (message) { text.textContent = message; }
    }

    function poll() {
      fetch(form.getAttribute("data-api"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) }
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (result) {
        if (result.status === 202) {
          var percent = Math.round((result.body.data.progress || 0) * 100);
          bar.value = percent;
          text.textContent = "Preparing the zip: " + percent + "%";
          window.setTimeout(poll, POLL_MS);
        } else if (result.status === 200) {
          var data = result.body.data;
          bar.value = 100;
          text.textContent = "Ready. Your download starts now.";
          var link = document.createElement("a");
          link.href = data.download_url;
          link.textContent = "Download the zip again";
          text.appendChild(document.createTextNode(" "));
          text.appendChild(link);
          finish();
          window.location.assign(data.download_url);
        } else {
          finish((result.body && result.body.error) || "The zip could not be prepared. Try again.");
        }
      }).catch(function () {
        finish("The server could not be reached. Try again.");
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      label.textContent = "Preparing…";
      box.hidden = false;
      bar.value = 0;
      text.textContent = "Preparing the zip…";
      poll();
    });
  }

  document.querySelectorAll("[data-bundle-form]").forEach(start);
})();
