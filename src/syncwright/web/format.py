"""How pages show values: times (turned into the viewer's zone in the browser), durations,
numbers, status badges and the small run chart (inline SVG)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence
from urllib.parse import urlencode

from jinja2 import Environment
from markupsafe import Markup, escape

from syncwright.domain.run import Run


def when(value: datetime | None, empty: str = "—") -> Markup:
    """A ``<time>`` the page's script shows in the viewer's time zone; UTC until then."""
    if value is None:
        return Markup(escape(empty))
    return Markup('<time datetime="{}" data-local>{}</time>').format(
        value.isoformat(), value.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def number(value: Any) -> str:
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else str(value)


#: Statuses in words for people (runs, entries, sync health, alerts).
STATUS_WORDS = {
    "scheduled": "Planned",
    "queued": "Queued",
    "querying": "Reading the source",
    "preparing": "Finding changes",
    "in_progress": "In progress",
    "succeeded": "Succeeded",
    "incomplete": "Incomplete",
    "failed": "Failed",
    "aborted": "Aborted",
    "skipped": "Skipped",
    "ok": "OK",
    "sent": "Sent",
    "pending": "Pending",
    "not_sent": "Not sent",
    "healthy": "Healthy",
    "warning": "Warning",
    "disabled": "Disabled",
    "running": "Running",
    "firing": "Firing",
    "resolved": "Resolved",
    "delivered": "Delivered",
    "undelivered": "Undelivered",
    "none": "None",
}
#: Who or what started a run, in words.
TRIGGER_WORDS = {
    "manual": "Manual",
    "schedule": "Schedule",
    "change": "Configuration change",
    "after": "After another sync",
    "webhook": "Webhook",
    "retry": "Automatic retry",
    "resync": "Resync of entries",
}
#: Sync types in words (a type not listed reads as its name in sentence case).
TYPE_WORDS = {"resources_update": "Resources updates", "resync": "Resync"}
#: Operations on an item, in words.
OPERATION_WORDS = {"add": "Added", "change": "Changed", "remove": "Removed"}


def _sentence(value: str) -> str:
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def words(value: Any, kind: str = "status") -> str:
    """A status, trigger, type or operation as people read it."""
    key = str(getattr(value, "value", value) or "none")
    table = {
        "status": STATUS_WORDS,
        "trigger": TRIGGER_WORDS,
        "type": TYPE_WORDS,
        "operation": OPERATION_WORDS,
    }[kind]
    return table.get(key) or _sentence(key)


def badge(status: Any) -> Markup:
    """A status as a coloured word (the colour only repeats what the word says)."""
    key = str(getattr(status, "value", status) or "none")
    return Markup('<span class="badge s-{}">{}</span>').format(key, words(key))


def tally(run: Run, name: str) -> str:
    """One of a run's counters, or "—" while it has none (a planned or queued run)."""
    return number(getattr(run.counters, name)) if run.counted else "—"


def query(params: dict[str, Any], **changes: Any) -> str:
    """The page's query string with some values changed (None drops one)."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for name, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for one in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((name, str(one)))
    return urlencode(pairs)


def run_chart(runs: Sequence[Run], base: str = "", width: int = 560, height: int = 132) -> Markup:
    """The last 30 runs that ran to an end, oldest on the left: a bar per run (its
    duration, coloured by its status, a link to the run) and a dot for the rows it changed;
    a time axis under them (shown in the viewer's time zone by the page's script). What the
    bars and dots mean is said under the chart, never over the data."""
    done = [r for r in reversed(runs) if r.duration_seconds is not None][-30:]
    if not done:
        return Markup("")
    top = 6
    axis = 30  # the time labels under the bars
    plot = height - top - axis
    longest = max(r.duration_seconds or 0 for r in done) or 1
    most = max(r.counters.changes for r in done) or 1
    step = width / max(len(done), 12)  # a few runs do not make giant bars
    bars, dots, ticks = [], [], []
    marked = sorted({0, len(done) // 2, len(done) - 1})
    for i, r in enumerate(done):
        seconds = r.duration_seconds or 0
        h = max(1.0, plot * seconds / longest)
        x = i * step
        label = (
            f"{r.when:%Y-%m-%d %H:%M} UTC: {words(r.status)}, {duration(seconds)},"
            f" {r.counters.changes} rows changed, {r.counters.read} read"
        )
        bars.append(
            Markup(
                '<a href="{}/runs/{}" aria-label="{}"><rect class="bar s-{}" x="{:.1f}" y="{:.1f}"'
                ' width="{:.1f}" height="{:.1f}"><title>{}</title></rect></a>'
            ).format(
                base,
                r.id,
                label,
                r.status.value,
                x + 1,
                top + plot - h,
                max(1.0, step - 2),
                h,
                label,
            )
        )
        cy = top + plot - plot * r.counters.changes / most
        dots.append((x + step / 2, cy))
        if i in marked:
            anchor = (
                "start" if i == 0 and len(done) > 1 else "end" if i == len(done) - 1 else "middle"
            )
            ticks.append(
                Markup(
                    '<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="{}"'
                    ' data-local-time="{}">{}</text>'
                ).format(
                    x + step / 2 if anchor == "middle" else (x if anchor == "start" else x + step),
                    top + plot + 16,
                    anchor,
                    r.when.isoformat(),
                    f"{r.when:%m-%d %H:%M} UTC",
                )
            )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in dots)
    circles = Markup("").join(
        Markup('<circle class="dot" cx="{:.1f}" cy="{:.1f}" r="2.5"></circle>').format(x, y)
        for x, y in dots
    )
    statuses = sorted({r.status.value for r in done})
    key = Markup(" · ").join(
        Markup('<span class="badge s-{}">{}</span>').format(status, words(status))
        for status in statuses
    )
    return Markup(
        '<figure class="chart-box"><svg class="chart" viewBox="0 0 {w} {h}" role="img"'
        ' aria-label="{aria}">{bars}'
        '<polyline class="line" points="{line}"></polyline>{circles}'
        '<line class="axis" x1="0" y1="{base_y}" x2="{w}" y2="{base_y}"></line>{ticks}'
        "</svg><figcaption>Bars: how long each run took (longest {longest}), coloured by its"
        " status ({key}); dots: rows changed (most {most}). Click a bar for its run."
        "</figcaption></figure>"
    ).format(
        w=width,
        h=height,
        aria=f"duration and rows changed of the last {len(done)} runs",
        longest=duration(longest),
        most=number(most),
        bars=Markup("").join(bars),
        line=line,
        circles=circles,
        base_y=top + plot,
        ticks=Markup("").join(ticks),
        key=key,
    )


def install(env: Environment) -> None:
    env.filters.update(when=when, duration=duration, number=number, badge=badge, words=words)
    env.globals.update(query=query, run_chart=run_chart, tally=tally)
