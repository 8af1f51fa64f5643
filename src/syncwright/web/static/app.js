// syncwright pages: local times, self-refreshing live regions, entry selection. No library.
"use strict";

function localTimes(root) {
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  for (const el of root.querySelectorAll("time[data-local]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (!isNaN(at)) {
      el.title = el.textContent;
      el.textContent = format.format(at);
    }
  }
  // The run chart's time axis: short, in the viewer's zone.
  const short = new Intl.DateTimeFormat(undefined, {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  for (const el of root.querySelectorAll("text[data-local-time]")) {
    const at = new Date(el.dataset.localTime);
    if (!isNaN(at)) el.textContent = short.format(at);
  }
}

// Pages with data-refresh fetch themselves again (same URL, so the same filters) and swap
// their live regions in place: the scroll position, open menus and ticked boxes stay.
function startRefresh() {
  const seconds = parseFloat(document.body.dataset.refresh || "0");
  if (!seconds) return;
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { "X-Refresh": "1" }, credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      if (!fresh.body.dataset.refresh) {
        // The page is no longer live (a run ended): show its final state and stop.
        document.querySelector("main").replaceWith(fresh.querySelector("main"));
        localTimes(document);
        cardTables(document);
        filterBoxes();
        selection();
        kindForms();
        clearInterval(timer);
        delete document.body.dataset.refresh;
        return;
      }
      for (const region of document.querySelectorAll("[data-live][id]")) {
        const next = fresh.getElementById(region.id);
        // A region the person is working in (a ticked box, the focus) waits for the next tick.
        const busyHere =
          region.contains(document.activeElement) && document.activeElement !== document.body;
        if (next && !busyHere && !region.querySelector('input[name="entry_id"]:checked, input[name="scope"][value="all"]:checked')) {
          region.replaceWith(next);
          localTimes(next);
          cardTables(next);
          selection();
        }
      }
      document.body.dataset.refreshedAt = new Date().toISOString();
    } catch (error) {
      // The server may be restarting: try again at the next tick.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, seconds * 1000);
}

// The report's resync: the count of ticked entries, and a button that stays disabled until
// something is ticked or "all entries matching the filter" is chosen.
function selection() {
  const form = document.getElementById("resync-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  const boxes = () => form.querySelectorAll('input[name="entry_id"]');
  const count = form.querySelector("[data-count]");
  const button = form.querySelector("[data-resync]");
  const update = () => {
    const ticked = [...boxes()].filter((b) => b.checked).length;
    if (count) count.textContent = ticked;
    const all = form.querySelector('input[name="scope"][value="all"]');
    if (button) button.disabled = !(ticked || (all && all.checked));
  };
  const all = form.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      update();
    });
  }
  form.addEventListener("change", update);
  update();
}

// Forms whose fields depend on a choice (a rule's condition, a channel's type): only the
// fields the chosen kind uses are shown (and sent); the others are hidden and disabled.
function kindForms() {
  for (const form of document.querySelectorAll("form[data-kind-form]")) {
    const kind = form.querySelector("select[data-kind]");
    if (!kind) continue;
    const hint = form.querySelector("[data-hints]");
    const hints = hint ? JSON.parse(hint.dataset.hints) : {};
    const show = () => {
      for (const field of form.querySelectorAll("[data-for]")) {
        const used = field.dataset.for.split(" ").includes(kind.value);
        field.hidden = !used;
        for (const input of field.querySelectorAll("input, select")) input.disabled = !used;
      }
      if (hint) hint.textContent = hints[kind.value] || "";
    };
    kind.addEventListener("change", show);
    show();
  }
}

// On a phone, table rows read as cards: each cell says which column it is.
function cardTables(root) {
  for (const table of root.querySelectorAll("table.cards")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (names[i] && !cell.dataset.label) cell.dataset.label = names[i];
      });
    }
  }
}

// Filters fold behind a "Filters (n)" button on a phone (n: the filters set); on a wider
// screen they stay open, and the button is hidden.
function filterBoxes() {
  const narrow = window.matchMedia("(max-width: 700px)");
  for (const form of document.querySelectorAll("form[data-filters]")) {
    const set = [...form.elements].filter(
      (el) =>
        el.name && el.type !== "hidden" && el.type !== "submit" &&
        ((el.type === "checkbox" || el.type === "radio") ? el.checked : el.value !== "")
    ).length;
    const box = document.createElement("details");
    box.className = "filters-box";
    const summary = document.createElement("summary");
    summary.textContent = `Filters (${set})`;
    box.append(summary);
    form.replaceWith(box);
    box.append(form);
    box.open = !narrow.matches;
  }
}

// "Go back" links: the previous page when there is one (the link goes home otherwise). A
// listener, not a javascript: URL, which the Content-Security-Policy refuses.
function backLinks() {
  for (const link of document.querySelectorAll("a[data-back]")) {
    link.addEventListener("click", (event) => {
      if (history.length > 1) {
        event.preventDefault();
        history.back();
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  cardTables(document);
  filterBoxes();
  startRefresh();
  selection();
  kindForms();
  backLinks();
});
