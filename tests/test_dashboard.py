"""The organisers' event dashboard: figures per session and a chart drawn on the server.

The chart is parsed as XML: it must say what it shows (title, desc, labelled by both) and
its bars must carry the very numbers the table beside it gives.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from entries import actions
from questions import moderation
from questions.models import Question
from realtime import audience
from realtime.models import AudienceMinute
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
MINUTE = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)  # 14:05 in London, in November


@pytest.fixture
def history(session):
    for offset, readers, peak in [(0, 3, 4), (1, 7, 9), (3, 5, 6)]:  # 14:07 had no one
        AudienceMinute.objects.create(
            session=session,
            minute=MINUTE + dt.timedelta(minutes=offset),
            readers=readers,
            peak=peak,
        )


def dashboard(client, user, event):
    client.force_login(user)
    response = client.get(reverse("organisers:dashboard", args=[event.slug]))
    assert response.status_code == 200
    return response.content.decode()


def charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, re.S)]


def row(html: str, session) -> str:
    return re.search(rf'<tr data-session="{session.pk}">(.*?)</tr>', html, re.S).group(1)


def figure(row_html: str, name: str) -> str:
    cell = re.search(rf'data-figure="{name}">(.*?)</td>', row_html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell.split("</span>", 1)[1]).strip()


def test_each_session_shows_its_readers_now_and_at_peak_its_entries_and_quotes(
    client, organiser, event, session, other_session, blogger, euan, history, monkeypatch
):
    post_entry(session, blogger, "Opening words")
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    hidden = post_entry(
        session, blogger, "Posted by mistake", kind="quote", attribution_speaker=euan
    )
    actions.hide_entry(entry=hidden)
    monkeypatch.setattr(audience, "_local", {session.pk: 2, other_session.pk: 12})

    html = dashboard(client, organiser, event)

    live = row(html, session)
    assert figure(live, "readers-now") == "2"
    assert figure(live, "peak") == "9 at 14:06"
    assert figure(live, "entries") == "2"
    assert figure(live, "quotes") == "1"
    upcoming = row(html, other_session)
    assert figure(upcoming, "readers-now") == "12"
    assert figure(upcoming, "peak") == "12 now"  # no history: now is the peak
    assert (figure(upcoming, "entries"), figure(upcoming, "quotes")) == ("0", "0")


def test_the_chart_says_what_it_shows_and_its_bars_are_the_tables_numbers(
    client, organiser, event, session, history
):
    html = dashboard(client, organiser, event)
    (svg,) = charts(html)
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby").split()
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert title.text == f"Readers of {session.title}, per minute"
    assert desc.text.startswith(
        "The most readers at once in each minute from 14:05 to 14:08 (Europe/London), "
        "4 minutes: at most 9 readers, at 14:06; 5 readers at 14:08."
    )
    bars = [bar.find(f"{SVG}title").text for bar in svg.iter(f"{SVG}rect")]
    assert bars == ["14:05: 4 readers", "14:06: 9 readers", "14:08: 6 readers"]

    table = re.search(r'<details class="chart-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    cells = re.findall(
        r"<time[^>]*>([\d:]+)</time></th><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>", table
    )
    assert cells == [("14:05", "4", "3"), ("14:06", "9", "7"), ("14:08", "6", "5")]
    assert [f"{t}: {peak} readers" for t, peak, _ in cells] == bars
    # Bars are as tall as their numbers, on one scale (the axis tops out at 10).
    heights = [float(bar.get("height")) for bar in svg.iter(f"{SVG}rect")]
    assert heights[1] / heights[0] == pytest.approx(9 / 4)
    assert [t.text for t in svg.iter(f"{SVG}text")][:3] == ["0", "5", "10"]


def test_a_title_with_markup_is_escaped_in_the_chart(client, organiser, event, session, history):
    session.title = 'Tags & <script>alert("x")</script>'
    session.save()
    (svg,) = charts(dashboard(client, organiser, event))
    assert (
        svg.find(f"{SVG}title").text == 'Readers of Tags & <script>alert("x")</script>, per minute'
    )
    assert svg.find(f"{SVG}script") is None


def test_without_history_there_is_no_chart_but_a_word_saying_so(client, organiser, event, session):
    html = dashboard(client, organiser, event)
    assert charts(html) == []
    assert "No readers recorded yet" in html


def test_the_event_pages_link_to_it(client, organiser, event):
    client.force_login(organiser)
    html = client.get(reverse("organisers:event", args=[event.slug])).content.decode()
    assert reverse("organisers:dashboard", args=[event.slug]) in html


@pytest.mark.parametrize("who", ["nyc_organiser", "blogger"])
def test_only_the_events_organisers_see_it(client, event, session, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("organisers:dashboard", args=[event.slug])).status_code == 403


def test_each_session_counts_its_readers_questions_and_those_still_waiting(
    client, organiser, event, session, other_session, blogger
):
    asked = [
        Question.objects.create(session=session, name=name, body="Why?")
        for name in ("Ann", "Bo", "Cy")
    ]
    moderation.approve(question=asked[0], by=blogger)
    moderation.reject(question=asked[1], by=blogger)

    html = dashboard(client, organiser, event)

    assert figure(row(html, session), "questions") == "3 (1 waiting)"
    assert figure(row(html, other_session), "questions") == "0"
