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
// - In the calendar's time grid a planned meeting moves by dragging it, or by the arrow keys
//   once focused (15 minutes up and down, a day left and right); Enter or dropping it opens
//   the meeting's own "change the time" form with the new time filled in, so every rule of a
//   reschedule (clashes, holidays, notifications, history) applies as without this.
// - A click on an empty time of the grid plans a meeting then (the new-meeting form with the
//   column's day, supervisor and the time filled in), and a marker shows the row under the
//   pointer; without this each column's "+" link plans a meeting on its day.
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

  // --- the calendar's time grid -------------------------------------------------------------

  var SLOT = 15;
  var moving = null; // {entry, date, minute, original column and classes}
  var dragged = false;

  function slotsOf(entry) {
    return entry.parentElement;
  }

  // The row (from 0, with the fraction within it) at ``y`` in a column. The rows have no
  // elements of their own: each is as high as the grid's rows, whatever the column's height
  // (a meeting dragged past the end of the day makes it taller).
  function rowAt(slots, y) {
    var height = parseFloat(window.getComputedStyle(slots).gridAutoRows);
    return (y - slots.getBoundingClientRect().top) / height;
  }

  function setRow(entry, minute) {
    var slots = slotsOf(entry);
    var row = minute / SLOT - Number(slots.dataset.first) + 1;
    entry.className = entry.className.replace(/\br\d+\b/, "r" + row);
  }

  function shiftDate(iso, days) {
    var day = new Date(iso + "T12:00:00Z");
    day.setUTCDate(day.getUTCDate() + days);
    return day.toISOString().slice(0, 10);
  }

  function timeText(minute) {
    var hours = Math.floor(minute / 60);
    var minutes = minute % 60;
    return (hours < 10 ? "0" : "") + hours + ":" + (minutes < 10 ? "0" : "") + minutes;
  }

  function announce(text) {
    var status = document.getElementById("cal-move-status");
    if (status) {
      status.textContent = text;
    }
  }

  // The column of ``day`` beside the entry's own (same supervisor), if the grid shows it.
  function columnFor(entry, day) {
    var who = slotsOf(entry).dataset.who;
    return document.querySelector('.cal-slots[data-day="' + day + '"][data-who="' + who + '"]');
  }

  function begin(entry) {
    if (!moving || moving.entry !== entry) {
      cancel();
      moving = {
        entry: entry,
        date: entry.dataset.date,
        minute: Number(entry.dataset.minute),
        column: slotsOf(entry),
        className: entry.className
      };
      entry.classList.add("moving");
    }
    return moving;
  }

  function moveTo(day, minute) {
    var entry = moving.entry;
    var slots = slotsOf(entry);
    var first = Number(slots.dataset.first) * SLOT;
    var last = first + Number(slots.dataset.rows) * SLOT - SLOT;
    var column = columnFor(entry, day);
    if (column && column !== slots) {
      column.appendChild(entry);
    }
    moving.date = day;
    moving.minute = Math.min(Math.max(minute, first), last);
    setRow(entry, moving.minute);
    var grid = document.getElementById("cal-grid");
    announce((grid ? grid.dataset.moving : "{when}").replace("{when}", day + " " + timeText(moving.minute)));
  }

  function cancel() {
    if (!moving) {
      return;
    }
    moving.column.appendChild(moving.entry);
    moving.entry.className = moving.className;
    moving = null;
    announce("");
  }

  function confirmMove() {
    var entry = moving.entry;
    if (moving.date === entry.dataset.date && moving.minute === Number(entry.dataset.minute)) {
      cancel();
      return;
    }
    var query = "date=" + moving.date + "&time=" + encodeURIComponent(timeText(moving.minute));
    window.location.assign(entry.dataset.move + "?" + query);
  }

  var KEYS = { ArrowUp: [0, -SLOT], ArrowDown: [0, SLOT], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

  document.addEventListener("keydown", function (event) {
    var entry = event.target.closest ? event.target.closest("a.cal-entry[data-move]") : null;
    if (!entry || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    if (KEYS[event.key]) {
      event.preventDefault();
      var state = begin(entry);
      moveTo(shiftDate(state.date, KEYS[event.key][0]), state.minute + KEYS[event.key][1]);
      entry.focus();
    } else if (event.key === "Enter" && moving && moving.entry === entry) {
      event.preventDefault();
      confirmMove();
    } else if (event.key === "Escape" && moving) {
      cancel();
    }
  });

  document.addEventListener("focusout", function (event) {
    if (moving && event.target === moving.entry && !dragged) {
      window.setTimeout(function () {
        if (moving && document.activeElement !== moving.entry) {
          cancel();
        }
      }, 0);
    }
  });

  document.addEventListener("pointerdown", function (event) {
    dragged = false; // a drag by touch ends without the click that would say so
    var entry = event.target.closest ? event.target.closest("a.cal-entry[data-move]") : null;
    if (!entry || event.button !== 0) {
      return;
    }
    var start = { x: event.clientX, y: event.clientY };
    var rect = entry.getBoundingClientRect();
    var grab = event.clientY - rect.top;

    function onMove(move) {
      if (!dragged && Math.abs(move.clientX - start.x) + Math.abs(move.clientY - start.y) < 6) {
        return;
      }
      dragged = true;
      var state = begin(entry);
      var under = document.elementFromPoint(move.clientX, move.clientY);
      var column = under && under.closest ? under.closest(".cal-slots[data-day]") : null;
      if (!column || column.dataset.who !== slotsOf(entry).dataset.who) {
        column = slotsOf(entry);
      }
      var row = Math.floor(rowAt(column, move.clientY - grab) + 0.5);
      moveTo(column.dataset.day, (Number(column.dataset.first) + row) * SLOT);
      state.entry.focus();
    }

    function onUp() {
      document.removeEventListener("pointermove", onMove);
      document.removeEventListener("pointerup", onUp);
      if (dragged && moving) {
        confirmMove();
      }
    }

    document.addEventListener("pointermove", onMove);
    document.addEventListener("pointerup", onUp);
  });

  // The grid's links are not dragged as links (that would cancel the pointer's move).
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest(".cal-grid")) {
      event.preventDefault();
    }
  });

  // A drag ends with a click on the meeting, or on the empty time it was let go over: that
  // click must neither open the meeting's page nor plan a new meeting.
  document.addEventListener("click", function (event) {
    if (dragged && event.target.closest && event.target.closest(".cal-grid")) {
      event.preventDefault();
      dragged = false;
    }
  }, true);

  // An empty time: each column has the new-meeting form's address for its day and supervisor
  // (data-new), and a click adds the time of the row clicked. The rows are only lines drawn by
  // CSS (an element and a link for each quarter hour made a week's page too heavy), so one
  // marker, moved by the pointer, shows which row a click would choose.
  var marker = null;

  // The column whose empty time (not a meeting in it) the event is on, or null.
  function emptyColumn(event) {
    var target = event.target;
    return target.matches && target.matches(".cal-slots[data-new]") ? target : null;
  }

  function emptyRow(slots, y) {
    return Math.min(Math.max(Math.floor(rowAt(slots, y)), 0), Number(slots.dataset.rows) - 1);
  }

  function hideMarker() {
    if (marker && marker.parentElement) {
      marker.parentElement.removeChild(marker);
    }
  }

  // Not for a finger: it has no hover, and a swipe that scrolls would leave the marker behind.
  document.addEventListener("pointermove", function (event) {
    var slots = emptyColumn(event);
    if (!slots || dragged || event.pointerType === "touch") {
      hideMarker();
      return;
    }
    if (!marker) {
      marker = document.createElement("div");
      marker.setAttribute("aria-hidden", "true");
    }
    marker.className = "cal-mark r" + (emptyRow(slots, event.clientY) + 1);
    if (marker.parentElement !== slots) {
      slots.appendChild(marker);
    }
  });

  document.addEventListener("pointerout", function (event) {
    if (marker && event.target === marker.parentElement) {
      hideMarker();
    }
  });

  // A click with a modifier key asks for a new tab or window, and there is no link to open.
  document.addEventListener("click", function (event) {
    var slots = emptyColumn(event);
    var modified = event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
    if (!slots || event.defaultPrevented || event.button !== 0 || modified) {
      return;
    }
    var minute = (Number(slots.dataset.first) + emptyRow(slots, event.clientY)) * SLOT;
    window.location.assign(slots.dataset.new + "&time=" + encodeURIComponent(timeText(minute)));
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
