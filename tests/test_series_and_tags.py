"""A series' combined live stream, filtered by city and tag; hashtags and their pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from entries import actions
from entries.hashtags import tags_in
from entries.markdown import render_markdown
from events.models import Event, Series
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(event, new_york):
    series = Series.objects.create(name="Social Media Week 2026", slug="smw-2026", hashtag="#SMW")
    Event.objects.filter(pk__in=[event.pk, new_york.pk]).update(series=series)
    return series


@pytest.fixture
def nyc_session(series, new_york, blogger):
    starts = timezone.now() - dt.timedelta(minutes=10)
    session = Session.objects.create(
        event=new_york,
        title="Brands in public",
        slug="brands",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        status=Session.Status.LIVE,
    )
    session.bloggers.add(blogger)
    return session


# ---- Hashtags ------------------------------------------------------------------------------


def test_hashtags_in_an_entry_link_to_their_tag_page():
    html = render_markdown("Packed room for #SMWLDN and #Лондон")
    assert '<a href="/tags/smwldn/" class="hashtag"' in html
    assert 'href="/tags/%D0%BB%D0%BE%D0%BD%D0%B4%D0%BE%D0%BD/"' in html


@pytest.mark.parametrize(
    "text",
    ["C# and F#", "issue #1", "`#code`", "[#linked](https://example.com)", "a#b", "&#35;x", r"\#x"],
)
def test_what_is_not_a_hashtag_stays_as_it_was(text):
    assert 'class="hashtag"' not in render_markdown(text)


def test_a_written_link_to_a_tag_path_cannot_climb_out_of_it():
    html = render_markdown("[a](/tags/../admin/) [b](/tags/%2e%2e/) [c](/tags/%2E/) [d](/x/)")
    assert "href" not in html


def test_tags_are_found_without_case_and_once():
    assert tags_in("#SMW #smw #SMWLDN, not C# nor #1") == ["smw", "smwldn"]


def test_the_tag_page_lists_every_entry_with_the_tag_newest_first(client, session, blogger):
    older = post_entry(session, blogger, "Day one #SMWLDN")
    post_entry(session, blogger, "Nothing tagged")
    newer = post_entry(session, blogger, "Day two #smwldn #smw")
    page = client.get(reverse("entries:tag", args=["SMWLDN"]))
    assert page.status_code == 200
    text = page.text
    assert text.index(f'id="entry-{newer.pk}"') < text.index(f'id="entry-{older.pk}"')
    assert "Nothing tagged" not in text
    assert "Like Minds" in text  # which session each came from


def test_the_tag_page_leaves_hidden_entries_out_and_paginates(client, session, blogger, settings):
    settings.ENTRIES_PER_PAGE = 2
    hidden = post_entry(session, blogger, "Gone #smw")
    actions.hide_entry(entry=hidden)
    for n in range(3):
        post_entry(session, blogger, f"Tagged {n} #smw")
    first = client.get("/tags/smw/")
    assert "Tagged 2" in first.text and "Tagged 0" not in first.text and "Gone" not in first.text
    assert 'href="?page=2"' in first.text
    assert "Tagged 0" in client.get("/tags/smw/?page=2").text
    assert client.get("/tags/smw/?page=9").status_code == 404
    assert client.get("/tags/smw/?page=x").status_code == 404
    assert client.get("/tags/not-a-word/").status_code == 404


# ---- The series page ------------------------------------------------------------------------


def test_the_series_page_streams_every_citys_live_sessions(
    client, series, session, nyc_session, blogger, other_session
):
    london = post_entry(session, blogger, "From London #SMWLDN")
    new_york = post_entry(nyc_session, blogger, "From New York #SMWNYC")
    post_entry(other_session, other_session.bloggers.first(), "Not live yet")
    page = client.get(series.get_absolute_url())
    assert page.status_code == 200
    text = page.text
    assert text.index(f'id="entry-{new_york.pk}"') < text.index(f'id="entry-{london.pk}"')
    assert "Not live yet" not in text
    # One socket per live session, each from the position the page was rendered at.
    session.refresh_from_db()
    assert f'data-live-session="{session.pk}" data-last-seq="{session.last_seq}"' in text
    assert f'data-live-session="{nyc_session.pk}"' in text
    assert "#SMW" in text and "#SMWLDN" in text and "#SMWNYC" in text


def test_the_series_page_filters_by_city_and_by_tag(client, series, session, nyc_session, blogger):
    post_entry(session, blogger, "From London #SMWLDN")
    post_entry(session, blogger, "London, untagged")
    post_entry(nyc_session, blogger, "From New York #SMWNYC")
    london = client.get(series.get_absolute_url(), {"city": "smw-london"}).text
    assert "From London" in london and "From New York" not in london
    assert f'data-live-session="{nyc_session.pk}"' not in london
    tagged = client.get(series.get_absolute_url(), {"tag": "#smwldn"}).text
    assert "From London" in tagged and "untagged" not in tagged and "New York #" not in tagged


def test_the_series_page_refuses_a_city_or_tag_it_does_not_know(client, series):
    url = series.get_absolute_url()
    assert client.get(url, {"city": "lagos"}).status_code == 400
    assert client.get(url, {"tag": "two words"}).status_code == 400
    assert client.get("/series/nope/").status_code == 404


def test_the_live_list_tells_the_page_of_sessions_that_went_live_later(
    client, series, session, nyc_session
):
    url = reverse("entries:series_live", args=[series.slug])
    ids = [s["id"] for s in client.get(url).json()["sessions"]]
    assert sorted(ids) == sorted([session.pk, nyc_session.pk])
    only = client.get(url, {"city": "smw-new-york"}).json()["sessions"]
    assert [s["id"] for s in only] == [nyc_session.pk] and only[0]["city"] == "New York"
    assert client.get(url, {"city": "lagos"}).json()["detail"].startswith("'lagos'")
