/* Progressive enhancement for the PIPELINE pages. Every page works without this file. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // --- Toasts ------------------------------------------------------------------------------------
  var TOAST_MS = 6000;

  function dismissLater(toast, ms) {
    var close = toast.querySelector("[data-toast-close]");
    if (close) {
      close.hidden = false;
      close.addEventListener("click", function () { toast.remove(); });
    }
    if (toast.classList.contains("toast--error")) return; // errors stay until dismissed
    setTimeout(function () { toast.remove(); }, ms || TOAST_MS);
  }

  function showToast(title, description, variant) {
    var box = document.getElementById("toasts");
    if (!box) return null;
    var toast = document.createElement("div");
    toast.className = "toast toast--" + (variant || "info");
    toast.setAttribute("data-toast", "");
    if (variant === "error") toast.setAttribute("role", "alert");
    var body = document.createElement("p");
    body.className = "toast__body";
    var strong = document.createElement("strong");
    strong.className = "toast__title";
    strong.textContent = title;
    body.appendChild(strong);
    if (description) body.appendChild(document.createTextNode(" " + description));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(body);
    toast.appendChild(close);
    box.appendChild(toast);
    dismissLater(toast);
    return toast;
  }
  window.pipelineToast = showToast;

  document.querySelectorAll("[data-toast]").forEach(function (toast) { dismissLater(toast); });

  // --- Dropdown menus (<details>): close on outside click and Escape --------------------------------
  var menus = document.querySelectorAll("details[data-menu]");
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus.forEach(function (menu) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });

  // --- Filter form: submit on change, show a loading state while the next page loads --------------
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    var results = document.querySelector(form.getAttribute("data-results"));
    form.addEventListener("change", function () {
      if (results) {
        results.classList.add("is-loading");
        results.setAttribute("aria-busy", "true");
      }
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  });
  document.querySelectorAll(".results .pager a").forEach(function (link) {
    link.addEventListener("click", function () {
      var results = link.closest(".results");
      results.classList.add("is-loading");
      results.setAttribute("aria-busy", "true");
    });
  });
  window.addEventListener("pageshow", function (event) { // back/forward cache: clear a stale spinner
    document.querySelectorAll(".results.is-loading").forEach(function (el) {
      el.classList.remove("is-loading");
      el.removeAttribute("aria-busy");
    });
    // A page restored by Back keeps the values the user picked before leaving, which are not the
    // filters this list applies: put the fields back to the applied state the page was rendered with.
    if (event.persisted) {
      document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.reset(); });
    }
  });

  // --- Models list: pick 2-4 models to compare ----------------------------------------------------
  document.querySelectorAll("form[data-compare-form]").forEach(function (form) {
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input[data-compare-box][form='" + form.id + "']"));
    var button = form.querySelector("[data-compare-button]");
    var label = form.querySelector("[data-compare-label]");
    var status = form.querySelector("[data-compare-status]");
    var min = parseInt(form.getAttribute("data-min"), 10) || 2;
    var max = parseInt(form.getAttribute("data-max"), 10) || 4;

    function count() {
      return boxes.filter(function (box) { return box.checked; }).length;
    }

    function update() {
      var n = count();
      label.textContent = "Compare (" + n + ")";
      form.hidden = n === 0;
      var ok = n >= min && n <= max;
      button.disabled = !ok;
      status.classList.toggle("is-error", n > max);
      if (n > max) status.textContent = "Compare at most " + max + " models at a time: untick " + (n - max) + ".";
      else if (n < min) status.textContent = "Tick " + (min - n) + " more model" + (min - n === 1 ? "" : "s") + " to compare.";
      else status.textContent = n + " models selected.";
    }

    boxes.forEach(function (box) { box.addEventListener("change", update); });
    form.addEventListener("submit", function (event) {
      var n = count();
      if (n < min || n > max) {
        event.preventDefault();
        update();
        showToast("Pick " + min + " to " + max + " models", status.textContent, "warning");
      }
    });
    window.addEventListener("pageshow", update);
    update();
  });

  // --- Compare page: "only differences" / "all settings" without reloading -----------------------
  document.querySelectorAll("[data-diff-toggle]").forEach(function (section) {
    var links = section.querySelectorAll("[data-diff-show]");
    var rows = section.querySelectorAll("tr[data-differs=false]");
    var none = section.querySelector("[data-diff-none]");
    links.forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var all = link.getAttribute("data-diff-show") === "all";
        rows.forEach(function (row) { row.hidden = !all; });
        if (none) none.hidden = all;
        links.forEach(function (other) {
          if (other === link) other.setAttribute("aria-current", "true");
          else other.removeAttribute("aria-current");
        });
        if (window.history && history.replaceState) history.replaceState(null, "", link.href);
      });
    });
  });

  // --- Copy buttons -----------------------------------------------------------------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      ok ? resolve() : reject(new Error("copy failed"));
    });
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      copyText(source.textContent.trim()).then(function () {
        var label = button.querySelector("[data-copy-label]");
        if (label) {
          label.textContent = "Copied";
          setTimeout(function () { label.textContent = "Copy"; }, 1500);
        }
        showToast("Copied", button.getAttribute("aria-label") ? "SHA-256 copied to the clipboard." : "Copied to the clipboard.", "success");
      }, function () {
        showToast("Copy failed", "Select the text and copy it by hand.", "error");
      });
    });
  });

  // --- Model downloads --------------------------------------------------------------------------
  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function describeError(data, response) {
    if (data && data.error) {
      var details = data.details;
      if (details && typeof details === "object") {
        details = Object.keys(details).map(function (key) {
          var value = details[key];
          return (Array.isArray(details) ? "" : key + ": ") + (Array.isArray(value) ? value.join(", ") : String(value));
        }).join("; ");
      }
      return details ? data.error + " (" + details + ")" : data.error;
    }
    if (response && response.status === 429) return "Too many download requests. Please wait a minute and try again.";
    if (response && (response.status === 401 || response.status === 403)) return "Your session has expired. Reload the page and sign in again.";
    return "Failed to generate download URLs" + (response ? " (HTTP " + response.status + ")" : "") + ".";
  }

  // Chrome blocks a burst of script-started downloads from one page; a hidden iframe per file,
  // started a little apart, is treated as separate navigations (the signed URLs answer with
  // Content-Disposition: attachment, so each iframe turns into a download).
  var STAGGER_MS = 400;
  function startDownloads(urls) {
    Object.keys(urls).forEach(function (name, index) {
      setTimeout(function () {
        var frame = document.createElement("iframe");
        frame.hidden = true;
        frame.setAttribute("aria-hidden", "true");
        frame.setAttribute("data-download-frame", name);
        frame.src = urls[name];
        document.body.appendChild(frame);
        setTimeout(function () { frame.remove(); }, 5 * 60 * 1000);
      }, index * STAGGER_MS);
    });
  }

  function showLinks(container, urls, expiresAt) {
    container.textContent = "";
    var intro = document.createElement("p");
    var until = expiresAt ? new Date(expiresAt) : null;
    intro.textContent = "If a download did not start, use these links" +
      (until && !isNaN(until) ? " (valid until " + until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ")" : "") + ":";
    var list = document.createElement("ul");
    Object.keys(urls).forEach(function (name) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = urls[name];
      link.setAttribute("download", name);
      link.textContent = name;
      item.appendChild(link);
      list.appendChild(item);
    });
    container.appendChild(intro);
    container.appendChild(list);
    container.hidden = false;
  }

  document.querySelectorAll("form[data-download-form]").forEach(function (form) {
    var boxes = Array.prototype.slice.call(form.querySelectorAll("[data-file-checkbox]"));
    var button = form.querySelector("[data-download-button]");
    var label = form.querySelector("[data-download-label]");
    var spinner = form.querySelector("[data-download-spinner]");
    var clear = form.querySelector("[data-clear-selection]");
    var links = form.querySelector("[data-download-links]");
    var pending = false;

    form.querySelectorAll("[data-nojs-only]").forEach(function (el) { el.hidden = true; });

    function selected() {
      return boxes.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    }

    function update() {
      var names = selected();
      label.textContent = names.length ? "Download Selected (" + names.length + ")" : "Download All Files";
      button.value = names.length ? "selected" : "all";
      clear.hidden = names.length === 0;
      boxes.forEach(function (box) {
        var row = box.closest("[data-file-row]");
        if (row) row.classList.toggle("is-selected", box.checked);
      });
    }

    function setPending(on) {
      pending = on;
      button.disabled = on;
      button.setAttribute("aria-busy", on ? "true" : "false");
      spinner.hidden = !on;
    }

    boxes.forEach(function (box) { box.addEventListener("change", update); });
    form.addEventListener("reset", function () { setTimeout(update, 0); });
    update();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (pending) return;
      var names = selected();
      var payload = names.length ? { files: names } : {};
      setPending(true);
      var response = null;
      fetch(form.getAttribute("data-api"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken(form) },
        body: JSON.stringify(payload),
      }).then(function (resp) {
        response = resp;
        return resp.json().catch(function () { return null; });
      }).then(function (data) {
        if (!response.ok || !data || !data.success || !data.data || !data.data.download_urls) {
          throw new Error(describeError(data, response));
        }
        var urls = data.data.download_urls;
        var count = Object.keys(urls).length;
        startDownloads(urls);
        showLinks(links, urls, data.data.expires_at);
        showToast("Download Started", "Downloading " + count + " file(s)", "success");
      }).catch(function (error) {
        var message = error && error.message && error.message !== "Failed to fetch"
          ? error.message : "Could not reach the server. Check your connection and try again.";
        showToast("Download Error", message, "error");
      }).then(function () { setPending(false); });
    });
  });

  // --- Job page: refresh the artifact state while files are being fetched ------------------------
  var state = document.querySelector("[data-autorefresh]");
  if (state && window.fetch && window.DOMParser) {
    var seconds = parseInt(state.getAttribute("data-autorefresh"), 10) || 5;
    var timer = setInterval(function () {
      if (document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (resp) { return resp.ok ? resp.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("artifact-state");
          var current = document.getElementById("artifact-state");
          if (!fresh || !current) return;
          current.replaceWith(fresh);
          if (!fresh.hasAttribute("data-autorefresh")) clearInterval(timer);
        })
        .catch(function () { /* try again next tick */ });
    }, seconds * 1000);
  }
})();
