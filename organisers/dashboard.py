"""The event's dashboard: per session, its readers now and at peak, what was posted, and a
chart of its readers per minute drawn here as SVG (readable without JavaScript).

session_figures(event) gathers one SessionFigures per session in a few queries: the
readers now (realtime.audience.readers_now_many, across every worker), the per-minute
history (realtime.models.AudienceMinute), and the entries and quotes (counted on the
Entry table; hidden entries left out). A column added later (e.g. questions) is one more
field on SessionFigures, filled in session_figures, and one more cell in
templates/organisers/dashboard.html.

readers_chart(...) draws the chart: a bar per minute (the most readers at once in it),
with a <title> and a <desc> that say what it shows, role="img" and aria-labelledby; the
template puts the same numbers in a <table> beside it.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from entries.models import Entry
from events.models import Event
from questions.models import Question
from realtime.audience import readers_now_many
from realtime.models import AudienceMinute
from sessions.models import Session

# The chart covers at most this many of a session's latest minutes (12 hours).
CHART_MAX_MINUTES = 12 * 60
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 30  # room for the axes' labels


@dataclass
class Minute:
    at: dt.datetime  # in the event's time zone
    readers: int
    peak: int


@dataclass
class SessionFigures:
    session: Session
    readers_now: int
    peak: int  # the most at once, ever (the history's and now)
    peak_at: dt.datetime | None
    entries: int
    quotes: int
    questions: int = 0  # readers' questions sent, whatever became of them
    questions_waiting: int = 0  # of which still waiting in the queue
    minutes: list[Minute] = field(default_factory=list)
    chart: SafeString | None = None


def session_figures(event: Event) -> list[SessionFigures]:
    zone = zoneinfo.ZoneInfo(event.time_zone)
    visible = Q(entries__deleted_at__isnull=True)
    sessions = list(
        event.sessions.order_by("starts_at", "title").annotate(
            entry_count=Count("entries", filter=visible),
            quote_count=Count("entries", filter=visible & Q(entries__kind=Entry.Kind.QUOTE)),
        )
    )
    history: dict[int, list[Minute]] = {}
    rows = AudienceMinute.objects.filter(session__event=event).order_by("session_id", "minute")
    for session_id, minute, readers, peak in rows.values_list(
        "session_id", "minute", "readers", "peak"
    ):
        history.setdefault(session_id, []).append(Minute(minute.astimezone(zone), readers, peak))
    now = readers_now_many([s.pk for s in sessions])
    asked = Question.objects.counts_by_session(s.pk for s in sessions)
    figures = []
    for session in sessions:
        minutes = history.get(session.pk, [])[-CHART_MAX_MINUTES:]
        best = max(minutes, key=lambda m: m.peak, default=None)
        peak, peak_at = (best.peak, best.at) if best else (0, None)
        if now[session.pk] > peak:
            peak, peak_at = now[session.pk], None
        figures.append(
            SessionFigures(
                session=session,
                readers_now=now[session.pk],
                peak=peak,
                peak_at=peak_at,
                entries=session.entry_count,
                quotes=session.quote_count,
                questions=asked.get(session.pk, {}).get("total", 0),
                questions_waiting=asked.get(session.pk, {}).get(Question.Status.PENDING, 0),
                minutes=minutes,
                chart=readers_chart(f"chart-{session.pk}", session.title, minutes, event.time_zone)
                if minutes
                else None,
            )
        )
    return figures


def _nice_ceiling(value: int) -> int:
    """The axis's top: 1, 2 or 5 times a power of ten, at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _people(count: int) -> str:
    return "1 reader" if count == 1 else f"{count} readers"


def readers_chart(chart_id: str, title: str, minutes: list[Minute], time_zone: str) -> SafeString:
    """An SVG bar chart of the readers per minute: one bar per minute from the first to the
    last in `minutes` (a minute missing had no reader), its height the minute's peak."""
    first, last = minutes[0].at, minutes[-1].at
    span = int((last - first).total_seconds() // 60) + 1
    by_offset = {int((m.at - first).total_seconds() // 60): m for m in minutes}
    top = _nice_ceiling(max(m.peak for m in minutes))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / span
    bar = max(slot * 0.8, 0.5)
    best = max(minutes, key=lambda m: m.peak)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top

    heading = f"Readers of {title}, per minute"
    description = (
        f"The most readers at once in each minute from {first:%H:%M} to {last:%H:%M} "
        f"({time_zone}), {span} minute{'s' if span != 1 else ''}: at most "
        f"{_people(best.peak)}, at {best.at:%H:%M}; {_people(minutes[-1].readers)} at "
        f"{last:%H:%M}. The table below has each minute's figures."
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(heading)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for value in sorted({0, top // 2, top} if top > 1 else {0, 1}):
        parts.append(
            f'<line class="chart__grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{_number(y(value))}" y2="{_number(y(value))}"/>'
            f'<text class="chart__label" x="{LEFT - 6}" y="{_number(y(value) + 4)}" '
            f'text-anchor="end">{value}</text>'
        )
    for offset, minute in sorted(by_offset.items()):
        if minute.peak == 0:
            continue
        x = LEFT + offset * slot + (slot - bar) / 2
        parts.append(
            f'<rect class="chart__bar" x="{_number(x)}" y="{_number(y(minute.peak))}" '
            f'width="{_number(bar)}" height="{_number(plot_h * minute.peak / top)}">'
            f"<title>{minute.at:%H:%M}: {_people(minute.peak)}</title></rect>"
        )
    labels = [(0, first)]
    if span > 1:
        labels.append((span - 1, last))
    for offset, at in labels:
        anchor = "start" if offset == 0 else "end"
        x = LEFT if offset == 0 else WIDTH - RIGHT
        parts.append(
            f'<text class="chart__label" x="{x}" y="{HEIGHT - 8}" '
            f'text-anchor="{anchor}">{at:%H:%M}</text>'
        )
    parts.append(
        f'<line class="chart__axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>'
    )
    return mark_safe("".join(parts))  # every text in it is escaped above
