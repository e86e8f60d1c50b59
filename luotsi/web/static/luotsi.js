// Luotsi's own behaviour on every page; everything works without it, this only helps.
//
// - While an htmx request is in flight its element is aria-busy and its submit buttons are
//   disabled, so a second click cannot send the same action twice.
// - A plain form (no htmx) disables its submit buttons once submitted, for the same reason;
//   they come back when the page is shown again from the back/forward cache.
// - Leaving a page with a changed, unsent form asks first, so typed text is not lost.
// - Switching the language comes back to the page as it is now, its filters included.
// - A "choose all" checkbox chooses every row of a list for a bulk action.
// - On a narrow screen the header's links fold behind a menu button, and each table cell
//   carries its column's name (data-label), shown above the value when rows become blocks.
// - A form sent back with errors moves the focus to its error summary, which links each
//   message to its field (forms are novalidate: the server's messages are the only ones).
(function () {
  "use strict";

  function submitButtons(element) {
    if (element.matches && element.matches("button, input[type=submit]")) {
      return [element];
    }
    return Array.prototype.slice.call(
      element.querySelectorAll ? element.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]") : []
    );
  }

  function setBusy(element, busy) {
    if (busy) {
      element.setAttribute("aria-busy", "true");
    } else {
      element.removeAttribute("aria-busy");
    }
    submitButtons(element).forEach(function (button) {
      if (busy && !button.disabled) {
        button.disabled = true;
        button.dataset.busyDisabled = "1";
      } else if (!busy && button.dataset.busyDisabled) {
        button.disabled = false;
        delete button.dataset.busyDisabled;
      }
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    setBusy(event.detail.elt, true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    setBusy(event.detail.elt, false);
  });

  var changed = new Set();

  function watched(form) {
    return form && (form.method || "").toLowerCase() === "post" && !form.hasAttribute("data-no-unsaved-warning");
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (watched(form)) {
      changed.add(form);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    changed.delete(form);
    if (form.classList.contains("langswitch") && form.elements.next) {
      // The list's filters as they are now (htmx may have changed the address since).
      form.elements.next.value = window.location.pathname + window.location.search;
    }
    if (event.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) {
      return; // htmx handles its own (above)
    }
    // After this turn of the event loop, so that the clicked button's name and value are sent.
    window.setTimeout(function () { setBusy(form, true); }, 0);
  });

  document.addEventListener("htmx:afterSwap", function () {
    changed.forEach(function (form) {
      if (!document.body.contains(form)) {
        changed.delete(form);
      }
    });
  });

  // A "choose all" checkbox (data-select-all="name") ticks every checkbox of that name in its form.
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (!all.matches || !all.matches("input[data-select-all]") || !all.form) {
      return;
    }
    all.form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("[data-busy-disabled]").forEach(function (button) {
        button.disabled = false;
        delete button.dataset.busyDisabled;
      });
      document.querySelectorAll("form[aria-busy]").forEach(function (form) {
        form.removeAttribute("aria-busy");
      });
    }
  });

  window.addEventListener("beforeunload", function (event) {
    if (changed.size > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  function labelTables(root) {
    root.querySelectorAll("table.table").forEach(function (table) {
      var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (names[column] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", names[column]);
          }
          column += cell.colSpan || 1;
        });
      });
      table.classList.add("labelled");
    });
  }

  function setUpMenu() {
    var topbar = document.querySelector(".topbar");
    var button = topbar && topbar.querySelector(".menu-button");
    if (!button) {
      return;
    }
    topbar.classList.add("has-menu");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      topbar.classList.toggle("open", open);
    });
  }

  function focusErrors(root) {
    var summary = root.querySelector(".error-summary");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    labelTables(document);
    focusErrors(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail.target.parentElement || document;
    labelTables(root);
    if (event.detail.requestConfig && event.detail.requestConfig.verb !== "get") {
      focusErrors(root); // a form sent back, not a list filtered as one types
    }
  });
})();
