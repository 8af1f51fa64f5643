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
        clearInterval(timer);
        delete document.body.dataset.refresh;
        return;
      }
      for (const region of document.querySelectorAll("[data-live][id]")) {
        const next = fresh.getElementById(region.id);
        if (next) {
          region.replaceWith(next);
          localTimes(next);
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

function selection() {
  const form = document.getElementById("resync-form");
  if (!form) return;
  const boxes = () => form.querySelectorAll('input[name="entry_id"]');
  const count = form.querySelector("[data-count]");
  const update = () => {
    if (count) count.textContent = [...boxes()].filter((b) => b.checked).length;
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
  startRefresh();
  selection();
  backLinks();
});
